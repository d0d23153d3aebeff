'use strict';
/*
 * An OTLP/HTTP test receiver for weft's tests. It listens on 127.0.0.1 only,
 * decodes each protobuf request with the OpenTelemetry JS decoder (otlp.js)
 * and appends one JSON line per request to the output file, before it answers,
 * so that a test may read the file as soon as the program under test is done:
 *
 *   {"seq":1,"time":..., "method":"POST","path":"/v1/traces","signal":"traces",
 *    "headers":{...},"content_type":"application/x-protobuf",
 *    "content_encoding":"gzip"|null,"body_bytes":N,"status":200,
 *    "request":{...decoded ExportTraceServiceRequest...}|null,"error":null|"..."}
 *
 * Every request is recorded, including those answered with an error status,
 * so that a test can count attempts. The signal comes from --path-signal
 * PATH=SIGNAL, else the path: /v1/traces, /v1/metrics and /v1/logs, else a path
 * containing "traces", "metrics" or "logs". A request on any other path is
 * answered like the others, its (decompressed) body recorded as "body_base64"
 * with "signal": null and "request": null. A body that cannot be read is
 * answered 400 (415 for a content type or encoding other than protobuf and
 * gzip or none) with the reason in "error".
 *
 * Options (each also an environment variable; the option wins):
 *   --port N              OTLP_RECEIVER_PORT; 0 (default) picks a free port.
 *   --out FILE            OTLP_RECEIVER_OUT; without it, lines go to stdout.
 *   --status N            OTLP_RECEIVER_STATUS; answer N (e.g. 503, 400, 429) ...
 *   --fail-count K        OTLP_RECEIVER_FAIL_COUNT; ... to the first K requests,
 *                         then 200 (default: every request).
 *   --retry-after S       OTLP_RECEIVER_RETRY_AFTER; Retry-After on those answers;
 *                         "date+N": an HTTP date N seconds after the answer.
 *   --delay-ms D          OTLP_RECEIVER_DELAY_MS; wait D ms before each answer.
 *   --partial-rejected N  OTLP_RECEIVER_PARTIAL_REJECTED; 200 answers carry a
 *   --partial-message M   OTLP_RECEIVER_PARTIAL_MESSAGE;  partial success.
 *   --path-signal P=S     OTLP_RECEIVER_PATH_SIGNALS (P=S,P2=S2); repeatable.
 *   --discard             OTLP_RECEIVER_DISCARD=1; count requests, decode and
 *                         record nothing (benchmarks).
 *   --max-seconds S       OTLP_RECEIVER_MAX_SECONDS; exit after S seconds
 *                         (default 300), so a test never leaves it behind.
 *   --tls-cert FILE       OTLP_RECEIVER_TLS_CERT, OTLP_RECEIVER_TLS_KEY: serve
 *   --tls-key FILE        https with this PEM certificate and key.
 *   --mode M              OTLP_RECEIVER_MODE: how a collector misbehaves, after
 *                         the request was read and recorded:
 *                         normal   answer (the default);
 *                         hang     never answer (the connection stays open);
 *                         endless  answer 200 with a body that never ends;
 *                         reset    reset the connection (TCP RST), no answer.
 *
 * The first line on stdout is "listening 127.0.0.1:PORT".
 *
 * Control (not recorded): POST /control with a JSON object of any of status,
 * fail_count, retry_after, delay_ms, partial_rejected, partial_message,
 * discard (null restores the default; setting status or fail_count restarts
 * the failure count), or {"exit": true}. GET /control returns the settings and
 * the counters {requests, bytes, failed}.
 */
const fs = require('fs');
const http = require('http');
const https = require('https');
const zlib = require('zlib');

const otlp = require('./otlp.js');

const OPTIONS = {
    port: ['OTLP_RECEIVER_PORT', Number, 0],
    out: ['OTLP_RECEIVER_OUT', String, null],
    status: ['OTLP_RECEIVER_STATUS', Number, 0],
    fail_count: ['OTLP_RECEIVER_FAIL_COUNT', Number, -1],
    retry_after: ['OTLP_RECEIVER_RETRY_AFTER', String, null],
    delay_ms: ['OTLP_RECEIVER_DELAY_MS', Number, 0],
    partial_rejected: ['OTLP_RECEIVER_PARTIAL_REJECTED', Number, null],
    partial_message: ['OTLP_RECEIVER_PARTIAL_MESSAGE', String, null],
    discard: ['OTLP_RECEIVER_DISCARD', (v) => v === true || v === '1' || v === 'true', false],
    max_seconds: ['OTLP_RECEIVER_MAX_SECONDS', Number, 300],
    tls_cert: ['OTLP_RECEIVER_TLS_CERT', String, null],
    tls_key: ['OTLP_RECEIVER_TLS_KEY', String, null],
    mode: ['OTLP_RECEIVER_MODE', String, 'normal'],
};

const MODES = ['normal', 'hang', 'endless', 'reset'];

function usage(msg) {
    process.stderr.write(`receiver.js: ${msg}\n`);
    process.exit(2);
}

function parseConfig(argv, env) {
    const cfg = {};
    for (const [name, [envName, conv, dflt]] of Object.entries(OPTIONS))
        cfg[name] = env[envName] !== undefined && env[envName] !== '' ? conv(env[envName]) : dflt;
    const pathSignals = {};
    const addPathSignal = (spec) => {
        const eq = spec.lastIndexOf('=');
        if (eq <= 0 || !otlp.SIGNALS[spec.slice(eq + 1)])
            usage(`bad path signal "${spec}" (PATH=traces|metrics|logs)`);
        pathSignals[spec.slice(0, eq)] = spec.slice(eq + 1);
    };
    if (env.OTLP_RECEIVER_PATH_SIGNALS)
        env.OTLP_RECEIVER_PATH_SIGNALS.split(',').filter(Boolean).forEach(addPathSignal);

    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        if (!arg.startsWith('--'))
            usage(`unexpected argument "${arg}"`);
        let [name, value] = arg.slice(2).split(/=(.*)/s, 2);
        name = name.replace(/-/g, '_');
        if (name === 'discard' && value === undefined) {
            cfg.discard = true;
            continue;
        }
        if (value === undefined) {
            if (i + 1 >= argv.length)
                usage(`${arg} needs a value`);
            value = argv[++i];
        }
        if (name === 'path_signal')
            addPathSignal(value);
        else if (OPTIONS[name])
            cfg[name] = OPTIONS[name][1](value);
        else
            usage(`unknown option ${arg}`);
    }
    for (const n of ['port', 'status', 'fail_count', 'delay_ms', 'max_seconds'])
        if (!Number.isFinite(cfg[n]))
            usage(`--${n.replace(/_/g, '-')} needs a number`);
    if (!MODES.includes(cfg.mode))
        usage(`--mode must be one of ${MODES.join(', ')}`);
    cfg.path_signals = pathSignals;
    return cfg;
}

const cfg = parseConfig(process.argv.slice(2), process.env);
const counters = { requests: 0, bytes: 0, failed: 0 };
let seq = 0;

function record(line) {
    const text = JSON.stringify(line) + '\n';
    if (cfg.out)
        fs.appendFileSync(cfg.out, text);
    else
        process.stdout.write(text);
}

function readBody(req) {
    return new Promise((resolve, reject) => {
        const chunks = [];
        req.on('data', (c) => chunks.push(c));
        req.on('end', () => resolve(Buffer.concat(chunks)));
        req.on('error', reject);
    });
}

function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

function reply(res, status, headers, body) {
    res.writeHead(status, Object.assign({ 'Content-Length': body.length }, headers));
    res.end(body);
}

async function control(req, res) {
    if (req.method === 'POST') {
        let update;
        try {
            update = JSON.parse((await readBody(req)).toString('utf8') || '{}');
        } catch (e) {
            return reply(res, 400, { 'Content-Type': 'text/plain' }, Buffer.from(`${e}\n`));
        }
        if (update.exit) {
            reply(res, 200, { 'Content-Type': 'application/json' }, Buffer.from('{}\n'));
            setImmediate(() => process.exit(0));
            return;
        }
        for (const [k, v] of Object.entries(update))
            if (OPTIONS[k] && !['port', 'out', 'max_seconds', 'tls_cert', 'tls_key'].includes(k))
                cfg[k] = v === null ? OPTIONS[k][2] : OPTIONS[k][1](v);
        if ('status' in update || 'fail_count' in update)
            counters.failed = 0;
    }
    const state = Object.assign({}, cfg, counters);
    reply(res, 200, { 'Content-Type': 'application/json' },
        Buffer.from(JSON.stringify(state) + '\n'));
}

/* The Retry-After value: as given, or "date+N" as the HTTP date N seconds from now. */
function retryAfter(v) {
    const m = /^date\+(\d+)$/.exec(v);
    return m ? new Date(Date.now() + Number(m[1]) * 1000).toUTCString() : v;
}

/* The status this request gets: the configured failure for the first K, else 200. */
function chooseStatus() {
    const failing = cfg.fail_count < 0 || counters.failed < cfg.fail_count;
    if (cfg.status && cfg.status !== 200 && failing) {
        counters.failed++;
        return cfg.status;
    }
    return 200;
}

/* The collector's misbehaviour (--mode), once the request is recorded. */
function misbehave(req, res) {
    if (cfg.mode === 'hang')
        return; /* the socket stays open, unanswered, until the client gives up */
    if (cfg.mode === 'reset') {
        req.socket.resetAndDestroy();
        return;
    }
    /* endless: a 200 whose chunked body goes on until the client hangs up. */
    res.writeHead(200, { 'Content-Type': 'application/x-protobuf' });
    const chunk = Buffer.alloc(16384, 0x0a);
    let closed = false;
    res.on('close', () => { closed = true; });
    const pump = () => {
        while (!closed && res.write(chunk))
            ;
        if (!closed)
            res.once('drain', pump);
    };
    pump();
}

async function handle(req, res) {
    const path = req.url;
    if (path.split('?')[0] === '/control')
        return control(req, res);

    const body = await readBody(req);
    counters.requests++;
    counters.bytes += body.length;
    const signal = otlp.signalForPath(path, cfg.path_signals);
    const status = chooseStatus();
    const encoding = req.headers['content-encoding'] || null;
    const contentType = req.headers['content-type'] || null;

    if (cfg.discard) {
        if (cfg.delay_ms > 0)
            await sleep(cfg.delay_ms);
        const out = status === 200 && signal ? otlp.encodeResponse(signal) : Buffer.alloc(0);
        return reply(res, status, { 'Content-Type': 'application/x-protobuf' }, out);
    }

    const line = {
        seq: ++seq,
        time: Date.now(),
        method: req.method,
        path,
        signal,
        headers: req.headers,
        content_type: contentType,
        content_encoding: encoding,
        body_bytes: body.length,
        status,
        request: null,
        error: null,
    };
    let httpStatus = status;
    try {
        if (req.method !== 'POST')
            throw Object.assign(new Error(`method ${req.method}`), { status: 405 });
        if (!contentType || contentType.split(';')[0].trim() !== 'application/x-protobuf')
            throw Object.assign(new Error(`content type ${contentType}`), { status: 415 });
        let raw;
        if (!encoding || encoding === 'identity')
            raw = body;
        else if (encoding === 'gzip')
            raw = zlib.gunzipSync(body);
        else
            throw Object.assign(new Error(`content encoding ${encoding}`), { status: 415 });
        line.uncompressed_bytes = raw.length;
        if (signal)
            line.request = otlp.decodeRequest(signal, raw);
        else
            line.body_base64 = raw.toString('base64');
    } catch (e) {
        line.error = String(e.message || e);
        if (e.status && httpStatus === 200)
            httpStatus = e.status;
        else if (httpStatus === 200)
            httpStatus = 400;
        line.status = httpStatus;
    }
    record(line);
    if (cfg.mode !== 'normal')
        return misbehave(req, res);

    if (cfg.delay_ms > 0)
        await sleep(cfg.delay_ms);
    const headers = { 'Content-Type': 'application/x-protobuf' };
    let out = Buffer.alloc(0);
    if (httpStatus === 200) {
        /* An empty body is also an empty response of any signal. */
        if (signal && (cfg.partial_rejected !== null || cfg.partial_message !== null))
            out = otlp.encodeResponse(signal, cfg.partial_rejected, cfg.partial_message);
        else if (signal)
            out = otlp.encodeResponse(signal);
    } else if (cfg.retry_after !== null && httpStatus === status) {
        headers['Retry-After'] = retryAfter(String(cfg.retry_after));
    }
    reply(res, httpStatus, headers, out);
}

const handler = (req, res) => {
    handle(req, res).catch((e) => {
        process.stderr.write(`receiver.js: ${e.stack || e}\n`);
        if (!res.headersSent)
            reply(res, 500, { 'Content-Type': 'text/plain' }, Buffer.from('internal error\n'));
    });
};
if (!cfg.tls_cert !== !cfg.tls_key)
    usage('--tls-cert and --tls-key go together');
const server = cfg.tls_cert
    ? https.createServer({ cert: fs.readFileSync(cfg.tls_cert), key: fs.readFileSync(cfg.tls_key) },
        handler)
    : http.createServer(handler);
server.keepAliveTimeout = 30000;

const lifetime = setTimeout(() => {
    process.stderr.write(`receiver.js: exiting after ${cfg.max_seconds}s\n`);
    process.exit(0);
}, cfg.max_seconds * 1000);
lifetime.unref();
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'])
    process.on(sig, () => process.exit(0));

server.on('error', (e) => {
    process.stderr.write(`receiver.js: ${e.message}\n`);
    process.exit(1);
});
server.listen(cfg.port, '127.0.0.1', () => {
    const { port } = server.address();
    process.stdout.write(`listening 127.0.0.1:${port}\n`);
});
