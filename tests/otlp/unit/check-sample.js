'use strict';
/*
 * The OTLP round trip: what encode-sample.c encoded with weft's encoder,
 * decoded with the OpenTelemetry JS decoder, must be exactly the sample.
 * Then partial-success responses encoded by the JS side must come back
 * through weft_otlp_decode_partial_success.
 *
 *   node check-sample.js TRACES.bin METRICS.bin ENCODE_SAMPLE
 */
const assert = require('assert');
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const otlp = require('../otlp.js');

let passed = 0;
let failed = 0;

function check(name, fn) {
    try {
        fn();
        passed++;
        console.log(`ok - ${name}`);
    } catch (e) {
        failed++;
        console.log(`not ok - ${name}\n${e.stack || e}`);
    }
}

/* The sample's values, as otlp.js presents decoded messages. */
const T0 = 1700000000123456789n;
const MS = 1000000n;
const t = (ms) => String(T0 + BigInt(ms) * MS);
const str = (s) => ({ stringValue: s });
const int = (n) => ({ intValue: String(n) });
const dbl = (d) => ({ doubleValue: d });
const bool = (b) => ({ boolValue: b });
const arr = (...v) => ({ arrayValue: { values: v } });
const kv = (key, value) => ({ key, value });

const TRACE_A = '0102030405060708090a0b0c0d0e0f10';
const TRACE_B = 'f0e1d2c3b4a5968778695a4b3c2d1eff';
const sid = (n) => 'a0000000000000' + n.toString(16).padStart(2, '0');

const RESOURCE = {
    attributes: [
        kv('service.name', str('sample-svc')),
        kv('process.pid', int(4242)),
        kv('process.command_args', arr(str('sample'), str('--flag'), str('two words'), str(''))),
        kv('telemetry.sdk.name', str('weft')),
        kv('host.name', str('h\u00e9te')),
    ],
    droppedAttributesCount: 0,
};

const SCOPE = { name: 'weft', version: '0.1.0', attributes: [], droppedAttributesCount: 0 };

function span(o) {
    return Object.assign({
        traceId: TRACE_A,
        traceState: '',
        parentSpanId: '',
        kind: 1,
        attributes: [],
        droppedAttributesCount: 0,
        events: [],
        droppedEventsCount: 0,
        links: [],
        droppedLinksCount: 0,
        status: null,
    }, o);
}

const link = (traceId, spanId, attributes) =>
    ({ traceId, spanId, traceState: '', attributes, droppedAttributesCount: 0 });

const SPANS = [
    span({
        spanId: sid(1), name: 'process', startTimeUnixNano: t(0), endTimeUnixNano: t(5000),
        attributes: [kv('process.exit.code', int(3))],
        status: { code: 2, message: 'exit code 3' },
    }),
    span({
        spanId: sid(2), parentSpanId: sid(1), name: 'thread worker',
        startTimeUnixNano: t(1), endTimeUnixNano: t(4000),
        attributes: [
            kv('thread.id', int(4243)),
            kv('thread.name', str('worker')),
            kv('code.function.name', str('worker_main')),
        ],
        droppedAttributesCount: 2,
        events: [
            {
                name: 'weft.deadlock', timeUnixNano: t(40), droppedAttributesCount: 0,
                attributes: [
                    kv('weft.threads', arr(str('worker-1'), str('worker-2'))),
                    kv('weft.cycle.length', int(2)),
                ],
            },
            { name: 'weft.lock_order_inversion', timeUnixNano: t(41), attributes: [],
                droppedAttributesCount: 0 },
        ],
        droppedEventsCount: 1,
    }),
    span({
        spanId: sid(3), parentSpanId: sid(2), name: 'wait mutex',
        startTimeUnixNano: t(30), endTimeUnixNano: t(45),
        attributes: [
            kv('weft.wait.kind', str('mutex')),
            kv('int.max', int('9223372036854775807')),
            kv('int.min', int('-9223372036854775808')),
            kv('int.neg', int(-7)),
            kv('int.zero', int(0)),
            kv('double', dbl(0.25)),
            kv('double.neg', dbl(-1e300)),
            kv('bool.true', bool(true)),
            kv('bool.false', bool(false)),
            kv('string.empty', str('')),
            kv('array.empty', arr()),
            kv('weft.object', str('0x7f00deadbeef')),
        ],
        links: [
            link(TRACE_B, sid(0x21), [kv('weft.link.kind', str('holder'))]),
            link(TRACE_A, sid(1), []),
        ],
        droppedLinksCount: 3,
        status: { code: 1, message: '' },
    }),
    span({
        traceId: TRACE_B, spanId: sid(4), name: 'task pool', kind: 5,
        startTimeUnixNano: t(50), endTimeUnixNano: t(60),
        links: [link(TRACE_A, sid(2), [kv('weft.link.kind', str('sem.post'))])],
    }),
    span({ spanId: sid(5), parentSpanId: sid(2), name: 'connect', kind: 3,
        startTimeUnixNano: t(70), endTimeUnixNano: t(80) }),
    span({ spanId: sid(6), parentSpanId: sid(1), name: 'accept', kind: 2,
        startTimeUnixNano: t(90), endTimeUnixNano: t(95) }),
    span({ spanId: sid(7), parentSpanId: sid(1), name: 'produce', kind: 4,
        startTimeUnixNano: t(96), endTimeUnixNano: t(97) }),
    span({ spanId: sid(8), parentSpanId: sid(1), name: 'unspecified', kind: 0,
        startTimeUnixNano: t(98), endTimeUnixNano: t(99) }),
];

/* Span.flags (field 16) per span; the JS decoder predates the field. */
const SPAN_FLAGS = [1, 1, 1, 0, 1, 1, 1, 0];

function numberPoint(o) {
    return Object.assign({
        attributes: [], exemplars: [], flags: 0, startTimeUnixNano: '0', timeUnixNano: t(10),
    }, o);
}

function histPoint(o) {
    return Object.assign({
        attributes: [], exemplars: [], flags: 0, startTimeUnixNano: t(0), timeUnixNano: t(10),
        explicitBounds: [0.001, 0.01, 0.1, 1],
    }, o);
}

const POOL_A = [kv('weft.pool.name', str('pool-a'))];
const POOL_B = [kv('weft.pool.name', str('pool-b'))];

const METRICS = [
    {
        name: 'weft.thread.created', description: 'Threads created.', unit: '{thread}',
        sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints: [
            numberPoint({ attributes: POOL_A, startTimeUnixNano: t(0), asInt: '5' }),
            numberPoint({ attributes: POOL_B, startTimeUnixNano: t(0), asInt: '9000000000' }),
        ] },
    },
    {
        name: 'process.thread.count', description: 'Live threads.', unit: '{thread}',
        sum: { aggregationTemporality: 2, isMonotonic: false, dataPoints: [
            numberPoint({ startTimeUnixNano: t(0), asInt: '-2' }),
        ] },
    },
    {
        name: 'weft.thread.waiting', description: '', unit: '{thread}',
        gauge: { dataPoints: [
            numberPoint({ attributes: [kv('weft.wait.kind', str('mutex'))], asInt: '0' }),
        ] },
    },
    {
        name: 'weft.pool.busy', description: '', unit: '{thread}',
        gauge: { dataPoints: [numberPoint({ attributes: POOL_A, asDouble: 1.5 })] },
    },
    {
        name: 'weft.channel.io', description: '', unit: 'By',
        sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints: [
            numberPoint({ startTimeUnixNano: t(0), asDouble: 0 }),
        ] },
    },
    {
        name: 'weft.wait.duration', description: 'Blocked calls.', unit: 's',
        histogram: { aggregationTemporality: 2, dataPoints: [
            histPoint({
                attributes: [
                    kv('weft.wait.kind', str('mutex')),
                    kv('code.function.name', str('worker_main')),
                ],
                count: '11', sum: 2.5, min: 0.0002, max: 1.75,
                bucketCounts: ['5', '3', '2', '0', '1'],
            }),
            histPoint({
                attributes: [kv('weft.wait.kind', str('cond'))],
                count: '0', sum: 0, bucketCounts: ['0', '0', '0', '0', '0'],
            }),
            histPoint({
                count: '7', sum: -3.5, min: -1, max: 0, bucketCounts: ['7'],
                explicitBounds: [],
            }),
        ] },
    },
    {
        name: 'weft.empty', description: '', unit: '',
        sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints: [] },
    },
];

/*
 * A minimal protobuf wire reader, for the one field the JS decoder does not
 * know: the length-delimited fields numbered `num` of a message.
 */
function varint(buf, pos) {
    let v = 0n;
    let shift = 0n;
    for (;;) {
        const b = buf[pos.i++];
        v |= BigInt(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
        shift += 7n;
    }
}

function fields(buf) {
    const out = [];
    const pos = { i: 0 };
    while (pos.i < buf.length) {
        const key = Number(varint(buf, pos));
        const num = key >>> 3;
        const wire = key & 7;
        let value;
        if (wire === 0) {
            value = varint(buf, pos);
        } else if (wire === 1) {
            value = buf.subarray(pos.i, pos.i + 8);
            pos.i += 8;
        } else if (wire === 2) {
            const len = Number(varint(buf, pos));
            value = buf.subarray(pos.i, pos.i + len);
            pos.i += len;
        } else if (wire === 5) {
            value = buf.readUInt32LE(pos.i);
            pos.i += 4;
        } else {
            throw new Error(`wire type ${wire}`);
        }
        out.push({ num, wire, value });
    }
    return out;
}

const sub = (buf, num) => fields(buf).filter((f) => f.num === num).map((f) => f.value);

function main() {
    const [tracesPath, metricsPath, sample] = process.argv.slice(2);
    if (!sample) {
        console.error('usage: node check-sample.js TRACES.bin METRICS.bin ENCODE_SAMPLE');
        process.exit(2);
    }
    const tracesBuf = fs.readFileSync(tracesPath);
    const metricsBuf = fs.readFileSync(metricsPath);

    check('traces decode to exactly the sample', () => {
        const req = otlp.decodeRequest('traces', tracesBuf);
        assert.deepStrictEqual(req, {
            resourceSpans: [{
                resource: RESOURCE,
                schemaUrl: '',
                scopeSpans: [{ scope: SCOPE, schemaUrl: '', spans: SPANS }],
            }],
        });
    });

    check('span flags are field 16, fixed32', () => {
        const rs = sub(tracesBuf, 1);
        assert.strictEqual(rs.length, 1);
        const ss = sub(rs[0], 2);
        assert.strictEqual(ss.length, 1);
        const spans = sub(ss[0], 2);
        assert.strictEqual(spans.length, SPAN_FLAGS.length);
        spans.forEach((s, i) => {
            const f = fields(s).filter((x) => x.num === 16);
            if (SPAN_FLAGS[i] === 0) {
                assert.strictEqual(f.length, 0, `span ${i}: zero flags are not encoded`);
            } else {
                assert.strictEqual(f.length, 1, `span ${i}`);
                assert.strictEqual(f[0].wire, 5, `span ${i}: fixed32`);
                assert.strictEqual(f[0].value, SPAN_FLAGS[i], `span ${i}`);
            }
        });
    });

    check('metrics decode to exactly the sample', () => {
        const req = otlp.decodeRequest('metrics', metricsBuf);
        assert.deepStrictEqual(req, {
            resourceMetrics: [{
                resource: RESOURCE,
                schemaUrl: '',
                scopeMetrics: [{ scope: SCOPE, schemaUrl: '', metrics: METRICS }],
            }],
        });
    });

    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-otlp-'));
    const partial = (signal, body) => {
        const file = path.join(tmp, 'response.bin');
        fs.writeFileSync(file, body);
        return execFileSync(sample, ['--partial', signal, file], { encoding: 'utf8' }).trim();
    };
    try {
        check('partial success (traces) is read back, message sanitised and truncated', () => {
            const msg = 'too old\n' + 'x'.repeat(100);
            const out = partial('traces', otlp.encodeResponse('traces', 5, msg));
            assert.strictEqual(out, 'rejected=5 message=too old?' + 'x'.repeat(55));
        });
        check('partial success (metrics) with a warning only', () => {
            const out = partial('metrics', otlp.encodeResponse('metrics', 0, 'warning only'));
            assert.strictEqual(out, 'rejected=0 message=warning only');
        });
        check('a plain success has no partial success', () => {
            assert.strictEqual(partial('traces', otlp.encodeResponse('traces')),
                'rejected=0 message=');
            assert.strictEqual(partial('metrics', Buffer.alloc(0)), 'rejected=0 message=');
        });
        check('a large rejected count survives', () => {
            const out = partial('metrics', otlp.encodeResponse('metrics', 4294967301, 'm'));
            assert.strictEqual(out, 'rejected=4294967301 message=m');
        });
    } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
    }

    console.log(`${passed} passed, ${failed} failed`);
    process.exit(failed ? 1 : 0);
}

main();
