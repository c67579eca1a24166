/**
 * The protobuf wire format (https://protobuf.dev/programming-guides/encoding/), just enough for the
 * few messages the agent encodes and decodes by hand (gRPC health checks, SDS): varints,
 * length-delimited fields and skipping unknown fields. Hand-written codecs keep protobufjs and
 * .proto files out of the running agent; each codec is checked against the real .proto files in
 * tests.
 *
 * Decoding follows what protobuf parsers do with input they do not fully know: unknown field
 * numbers are skipped, a known field number with an unexpected wire type is skipped too (the C++
 * parser keeps it as an unknown field), and for a non-repeated field the last value wins.
 */

/** Wire types. */
export const VARINT = 0;
export const I64 = 1;
export const LEN = 2;
export const I32 = 5;

function pushVarint(value: number, out: number[]): void {
  let v = value;
  while (v > 0x7f) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
}

/** A non-negative integer (up to 2^53) as a varint. */
export function encodeVarint(value: number): Buffer {
  const out: number[] = [];
  pushVarint(value, out);
  return Buffer.from(out);
}

/**
 * Builds a message field by field, in the order written (protobuf encoders write fields in
 * field-number order; callers do the same so the bytes match protoc's and protobufjs's). proto3
 * defaults (empty string, empty bytes, 0) are left off the wire, as every proto3 encoder does.
 */
export class ProtoWriter {
  private readonly parts: Buffer[] = [];

  private tag(field: number, wireType: number): void {
    this.parts.push(encodeVarint(field * 8 + wireType));
  }

  varint(field: number, value: number): this {
    if (value === 0) return this;
    this.tag(field, VARINT);
    this.parts.push(encodeVarint(value));
    return this;
  }

  bool(field: number, value: boolean): this {
    return this.varint(field, value ? 1 : 0);
  }

  bytes(field: number, value: Uint8Array): this {
    if (value.length === 0) return this;
    return this.lengthDelimited(field, value);
  }

  string(field: number, value: string): this {
    if (value === '') return this;
    return this.lengthDelimited(field, Buffer.from(value, 'utf8'));
  }

  /** An embedded message: written even when empty (its presence is meaningful, e.g. a oneof). */
  message(field: number, value: Uint8Array): this {
    return this.lengthDelimited(field, value);
  }

  private lengthDelimited(field: number, value: Uint8Array): this {
    this.tag(field, LEN);
    this.parts.push(encodeVarint(value.length), Buffer.from(value.buffer, value.byteOffset, value.length));
    return this;
  }

  finish(): Buffer {
    return Buffer.concat(this.parts);
  }
}

export class ProtoReader {
  private at = 0;
  constructor(private readonly buf: Uint8Array) {}

  get done(): boolean {
    return this.at >= this.buf.length;
  }

  /** A varint as a JavaScript number (exact up to 2^53). */
  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      const byte = this.buf[this.at++];
      if (byte === undefined) throw new Error('truncated varint');
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 0x80;
    }
    throw new Error('varint longer than 10 bytes');
  }

  /** An `int32` field: negative values are sign-extended 10-byte varints; the low 32 bits count. */
  int32(): number {
    let low = 0;
    for (let i = 0; i < 10; i++) {
      const byte = this.buf[this.at++];
      if (byte === undefined) throw new Error('truncated varint');
      if (i < 5) low = (low | ((byte & 0x7f) << (7 * i))) >>> 0;
      if (byte < 0x80) return low | 0;
    }
    throw new Error('varint longer than 10 bytes');
  }

  bytes(length: number): Uint8Array {
    if (this.at + length > this.buf.length) throw new Error('truncated field');
    const out = this.buf.subarray(this.at, this.at + length);
    this.at += length;
    return out;
  }

  /** A length-delimited value (string, bytes or embedded message). */
  lengthDelimited(): Uint8Array {
    return this.bytes(this.varint());
  }

  string(): string {
    return Buffer.from(this.lengthDelimited()).toString('utf8');
  }

  /** Skips a field of an unknown number, as protobuf parsers must. */
  skip(wireType: number): void {
    if (wireType === VARINT) this.varint();
    else if (wireType === I64) this.bytes(8);
    else if (wireType === LEN) this.lengthDelimited();
    else if (wireType === I32) this.bytes(4);
    else throw new Error(`unsupported wire type ${wireType}`);
  }
}

/**
 * Calls `onField(number, wireType, reader)` for each field of `buf`; the callback consumes the
 * value and returns true, or returns false to have the field skipped.
 */
export function readFields(
  buf: Uint8Array,
  onField: (field: number, wireType: number, r: ProtoReader) => boolean,
): void {
  const r = new ProtoReader(buf);
  while (!r.done) {
    const tag = r.varint();
    const field = Math.floor(tag / 8);
    const wireType = tag % 8;
    if (field === 0) throw new Error('field number 0');
    if (!onField(field, wireType, r)) r.skip(wireType);
  }
}
