'use strict';
/*
 * OTLP protobuf bodies decoded and encoded with the OpenTelemetry JS project's
 * generated code (@opentelemetry/otlp-transformer, build/src/generated/root.js),
 * an implementation independent of weft's, for the receiver and the checks.
 *
 * Decoded messages are plain objects in the shape of the OTLP JSON mapping:
 * lowerCamelCase field names, every field present (defaults filled in, except
 * members of a oneof and proto3 optional fields, which appear only when set),
 * enums as numbers, 64-bit integers as decimal strings, and bytes (trace and
 * span ids, bytesValue) as lowercase hex strings.
 */
const root = require('@opentelemetry/otlp-transformer/build/src/generated/root.js');

const proto = root.opentelemetry.proto;

const SIGNALS = {
    traces: {
        request: proto.collector.trace.v1.ExportTraceServiceRequest,
        response: proto.collector.trace.v1.ExportTraceServiceResponse,
        rejectedField: 'rejectedSpans',
    },
    metrics: {
        request: proto.collector.metrics.v1.ExportMetricsServiceRequest,
        response: proto.collector.metrics.v1.ExportMetricsServiceResponse,
        rejectedField: 'rejectedDataPoints',
    },
    logs: {
        request: proto.collector.logs.v1.ExportLogsServiceRequest,
        response: proto.collector.logs.v1.ExportLogsServiceResponse,
        rejectedField: 'rejectedLogRecords',
    },
};

const TO_OBJECT = { longs: String, enums: Number, defaults: true, arrays: true, json: true };

function hexify(v) {
    if (v instanceof Uint8Array)
        return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex');
    if (Array.isArray(v))
        return v.map(hexify);
    if (v !== null && typeof v === 'object') {
        const out = {};
        for (const [k, x] of Object.entries(v))
            out[k] = hexify(x);
        return out;
    }
    return v;
}

/* Which signal a request path carries: the standard paths, else a word in it. */
function signalForPath(path, overrides) {
    const p = path.split('?')[0];
    if (overrides && Object.prototype.hasOwnProperty.call(overrides, p))
        return overrides[p];
    for (const s of Object.keys(SIGNALS))
        if (p === `/v1/${s}`)
            return s;
    for (const s of Object.keys(SIGNALS))
        if (p.toLowerCase().includes(s))
            return s;
    return null;
}

function decodeRequest(signal, buf) {
    const type = SIGNALS[signal].request;
    return hexify(type.toObject(type.decode(buf), TO_OBJECT));
}

function decodeResponse(signal, buf) {
    const type = SIGNALS[signal].response;
    return hexify(type.toObject(type.decode(buf), TO_OBJECT));
}

/* An Export*ServiceResponse; with rejected/message set, a partial success. */
function encodeResponse(signal, rejected, message) {
    const s = SIGNALS[signal];
    const body = {};
    if (rejected !== undefined || message !== undefined)
        body.partialSuccess = {
            [s.rejectedField]: Number(rejected || 0),
            errorMessage: message || '',
        };
    return Buffer.from(s.response.encode(s.response.fromObject(body)).finish());
}

module.exports = { SIGNALS, signalForPath, decodeRequest, decodeResponse, encodeResponse, hexify };
