/*
 * A "libcurl.so.4" that is not libcurl: put first on LD_LIBRARY_PATH, it lets
 * a test see what the otlp output does when libcurl cannot be used (one
 * warning, the file output instead).
 */
__attribute__((visibility("default"))) int weft_fake_curl(void);

int weft_fake_curl(void)
{
	return 0;
}
