// The argument encoding of ABI v1: the protobuf wire format (docs/contract-abi.md).
//
// An argument list is the proto3 message whose fields are the arguments in order (field
// numbers 1, 2, ...). Results and event data are encoded the same way. A Reader takes fields
// by number in any order and skips the ones it is not asked for; a Writer produces the one
// canonical form: fields in increasing number, a field equal to its default left out.
//
// Contracts that keep protobuf messages of their own (apps/directory's contract) also read and
// write nested messages (`message`, `repeatedMessage`) and repeated strings and bytes
// (`repeatedString`, `repeatedBytes`; `count` tells how many elements a field has), in the same
// canonical form: a repeated field's elements in order under its number, a nested message written
// even when empty. The argument lists of an interface file never need them.
import { revert } from "./revert";

const WIRE_VARINT: u32 = 0;
const WIRE_FIXED64: u32 = 1;
const WIRE_LENGTH_DELIMITED: u32 = 2;
const WIRE_FIXED32: u32 = 5;
// Protobuf's largest field number (2^29 - 1).
const FIELD_NUMBER_MAX: u64 = 536870911;

// Reads the fields of one encoded message. Construction checks the whole message, so a
// malformed input reverts before the method reads anything, whichever fields it asks for.
// A field that occurs twice counts once, with its last value, as in protobuf.
export class Reader {
  private data: Uint8Array;
  private what: string;
  private position: i32 = 0;
  // One entry per field occurrence, in input order.
  private numbers: Array<u32> = [];
  private wireTypes: Array<u32> = [];
  // A varint's value, or where a length-delimited field's bytes start.
  private values: Array<u64> = [];
  private lengths: Array<i32> = [];

  // `what` names the message in error messages: "input", "result", ...
  constructor(data: Uint8Array, what: string = "input") {
    this.data = data;
    this.what = what;
    while (this.position < data.length) {
      const tag = this.varint("a field tag");
      const fieldNumber = tag >> 3;
      const wireType = <u32>(tag & 7);
      if (fieldNumber == 0 || fieldNumber > FIELD_NUMBER_MAX) {
        this.malformed(`field number ${fieldNumber} is out of range`);
      }
      const number = <u32>fieldNumber;
      let value: u64 = 0;
      let length: i32 = 0;
      if (wireType == WIRE_VARINT) {
        value = this.varint(`field ${number}`);
      } else if (wireType == WIRE_LENGTH_DELIMITED) {
        const declared = this.varint(`the length of field ${number}`);
        if (declared > <u64>(data.length - this.position)) {
          this.malformed(`field ${number} is longer than the rest of the ${what}`);
        }
        value = <u64>this.position;
        length = <i32>declared;
        this.position += length;
      } else if (wireType == WIRE_FIXED64 || wireType == WIRE_FIXED32) {
        // No ABI v1 type uses them, but a newer caller may send one in a field we skip.
        length = wireType == WIRE_FIXED64 ? 8 : 4;
        if (length > data.length - this.position) {
          this.malformed(`field ${number} is longer than the rest of the ${what}`);
        }
        value = <u64>this.position;
        this.position += length;
      } else {
        this.malformed(`field ${number} has wire type ${wireType}, which protobuf does not allow`);
      }
      this.numbers.push(number);
      this.wireTypes.push(wireType);
      this.values.push(value);
      this.lengths.push(length);
    }
  }

  // True when the field is present (a field equal to its default is left out by the writer,
  // so absent and default read the same).
  has(field: u32): bool {
    return this.find(field) >= 0;
  }

  bool(field: u32): bool {
    const value = this.varintField(field, "bool");
    if (value > 1) this.malformed(`field ${field} (bool) is ${value}, not 0 or 1`);
    return value == 1;
  }

  uint32(field: u32): u32 {
    const value = this.varintField(field, "uint32");
    if (value > <u64>u32.MAX_VALUE) this.malformed(`field ${field} (uint32) is ${value}, above 2^32 - 1`);
    return <u32>value;
  }

  uint64(field: u32): u64 {
    return this.varintField(field, "uint64");
  }

  // protobuf's int64: the varint of the two's complement (a negative value takes 10 bytes).
  int64(field: u32): i64 {
    return <i64>this.varintField(field, "int64");
  }

  // A view into the message's bytes (not a copy).
  bytes(field: u32): Uint8Array {
    const index = this.lengthDelimitedField(field, "bytes");
    if (index < 0) return new Uint8Array(0);
    return this.data.subarray(<i32>this.values[index], <i32>this.values[index] + this.lengths[index]);
  }

  string(field: u32): string {
    const index = this.lengthDelimitedField(field, "string");
    if (index < 0) return "";
    const pointer = this.data.dataStart + <usize>this.values[index];
    const length = this.lengths[index];
    if (!isValidUtf8(pointer, length)) this.malformed(`field ${field} (string) is not valid UTF-8`);
    return String.UTF8.decodeUnsafe(pointer, <usize>length);
  }

  // How many times the field occurs (a repeated field's number of elements).
  count(field: u32): i32 {
    let found = 0;
    for (let index = 0; index < this.numbers.length; index++) {
      if (this.numbers[index] == field) found++;
    }
    return found;
  }

  // Every element of a repeated string field, in order.
  repeatedString(field: u32): Array<string> {
    const values = new Array<string>();
    for (let index = 0; index < this.numbers.length; index++) {
      if (this.numbers[index] != field) continue;
      this.checkLengthDelimited(index, field, "repeated string");
      const pointer = this.data.dataStart + <usize>this.values[index];
      const length = this.lengths[index];
      if (!isValidUtf8(pointer, length)) this.malformed(`field ${field} (string) is not valid UTF-8`);
      values.push(String.UTF8.decodeUnsafe(pointer, <usize>length));
    }
    return values;
  }

  // Every element of a repeated bytes field, in order (views, not copies).
  repeatedBytes(field: u32): Array<Uint8Array> {
    const values = new Array<Uint8Array>();
    for (let index = 0; index < this.numbers.length; index++) {
      if (this.numbers[index] != field) continue;
      this.checkLengthDelimited(index, field, "repeated bytes");
      const start = <i32>this.values[index];
      values.push(this.data.subarray(start, start + this.lengths[index]));
    }
    return values;
  }

  // A nested message field, read by its own Reader (an absent field reads as the empty
  // message, all defaults). `what` names it in error messages. Protobuf merges a message field
  // that occurs twice; a canonical writer never does that, so the last occurrence is taken.
  message(field: u32, what: string = ""): Reader {
    const name = what.length > 0 ? what : `${this.what} field ${field}`;
    return new Reader(this.bytes(field), name);
  }

  // Every element of a repeated message field, each read by its own Reader, in order.
  repeatedMessage(field: u32, what: string = ""): Array<Reader> {
    const name = what.length > 0 ? what : `${this.what} field ${field}`;
    const elements = this.repeatedBytes(field);
    const readers = new Array<Reader>();
    for (let index = 0; index < elements.length; index++) {
      readers.push(new Reader(elements[index], name));
    }
    return readers;
  }

  private checkLengthDelimited(index: i32, field: u32, typeName: string): void {
    if (this.wireTypes[index] != WIRE_LENGTH_DELIMITED) {
      this.malformed(
        `field ${field} (${typeName}) has wire type ${this.wireTypes[index]}, not length-delimited`,
      );
    }
  }

  private find(field: u32): i32 {
    for (let index = this.numbers.length - 1; index >= 0; index--) {
      if (this.numbers[index] == field) return index;
    }
    return -1;
  }

  private varintField(field: u32, typeName: string): u64 {
    const index = this.find(field);
    if (index < 0) return 0;
    if (this.wireTypes[index] != WIRE_VARINT) {
      this.malformed(`field ${field} (${typeName}) has wire type ${this.wireTypes[index]}, not a varint`);
    }
    return this.values[index];
  }

  private lengthDelimitedField(field: u32, typeName: string): i32 {
    const index = this.find(field);
    if (index >= 0 && this.wireTypes[index] != WIRE_LENGTH_DELIMITED) {
      this.malformed(
        `field ${field} (${typeName}) has wire type ${this.wireTypes[index]}, not length-delimited`,
      );
    }
    return index;
  }

  private varint(what: string): u64 {
    let result: u64 = 0;
    for (let shift: u64 = 0; shift < 70; shift += 7) {
      if (this.position >= this.data.length) this.malformed(`${what} ends early`);
      const byte = <u64>unchecked(this.data[this.position]);
      this.position++;
      // The tenth byte may carry only the 64th bit.
      if (shift == 63 && byte > 1) this.malformed(`${what} is a varint above 64 bits`);
      result |= (byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return result;
    }
    this.malformed(`${what} is a varint above 64 bits`);
    return 0;
  }

  private malformed(message: string): void {
    revert(`malformed ${this.what}: ${message}`);
  }
}

// Builds one message in the canonical form. Each method takes a field number and a value and
// returns the writer, so calls chain:
//     new Writer().string(1, from).string(2, to).uint64(3, amount)
// Fields must come in increasing number (a contract bug otherwise, which reverts); a value
// equal to its default (false, 0, empty) is left out.
export class Writer {
  private buffer: Uint8Array = new Uint8Array(64);
  private length: i32 = 0;
  private lastField: u32 = 0;

  bool(field: u32, value: bool): Writer {
    this.next(field);
    if (value) {
      this.tag(field, WIRE_VARINT);
      this.varint(1);
    }
    return this;
  }

  uint32(field: u32, value: u32): Writer {
    return this.uint64(field, <u64>value);
  }

  uint64(field: u32, value: u64): Writer {
    this.next(field);
    if (value != 0) {
      this.tag(field, WIRE_VARINT);
      this.varint(value);
    }
    return this;
  }

  int64(field: u32, value: i64): Writer {
    return this.uint64(field, <u64>value);
  }

  bytes(field: u32, value: Uint8Array): Writer {
    this.next(field);
    if (value.length > 0) {
      this.tag(field, WIRE_LENGTH_DELIMITED);
      this.varint(<u64>value.length);
      this.reserve(value.length);
      memory.copy(this.buffer.dataStart + <usize>this.length, value.dataStart, <usize>value.length);
      this.length += value.length;
    }
    return this;
  }

  string(field: u32, value: string): Writer {
    // REPLACE: a lone surrogate becomes U+FFFD, so the bytes are always valid UTF-8.
    const encoded = String.UTF8.encode(value, false, String.UTF8.ErrorMode.REPLACE);
    return this.bytes(field, Uint8Array.wrap(encoded));
  }

  // A nested message: its encoding as a length-delimited field. Unlike a scalar it is written
  // even when empty, as protobuf writes a message field that is set.
  message(field: u32, value: Writer): Writer {
    this.next(field);
    this.lengthDelimited(field, value.finish());
    return this;
  }

  // A repeated string field: one occurrence per element, in order (none when empty).
  repeatedString(field: u32, values: Array<string>): Writer {
    this.next(field);
    for (let index = 0; index < values.length; index++) {
      const encoded = String.UTF8.encode(values[index], false, String.UTF8.ErrorMode.REPLACE);
      this.lengthDelimited(field, Uint8Array.wrap(encoded));
    }
    return this;
  }

  // A repeated bytes field: one occurrence per element, in order.
  repeatedBytes(field: u32, values: Array<Uint8Array>): Writer {
    this.next(field);
    for (let index = 0; index < values.length; index++) this.lengthDelimited(field, values[index]);
    return this;
  }

  // A repeated message field: one occurrence per element (each written even when empty).
  repeatedMessage(field: u32, values: Array<Writer>): Writer {
    this.next(field);
    for (let index = 0; index < values.length; index++) {
      this.lengthDelimited(field, values[index].finish());
    }
    return this;
  }

  // The message so far, as a copy.
  finish(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }

  private lengthDelimited(field: u32, value: Uint8Array): void {
    this.tag(field, WIRE_LENGTH_DELIMITED);
    this.varint(<u64>value.length);
    this.reserve(value.length);
    memory.copy(this.buffer.dataStart + <usize>this.length, value.dataStart, <usize>value.length);
    this.length += value.length;
  }

  private next(field: u32): void {
    if (field == 0 || <u64>field > FIELD_NUMBER_MAX) revert(`Writer: field number ${field} is out of range`);
    if (field <= this.lastField) {
      revert(`Writer: field ${field} after field ${this.lastField}; fields go in increasing number`);
    }
    this.lastField = field;
  }

  private tag(field: u32, wireType: u32): void {
    this.varint((<u64>field << 3) | <u64>wireType);
  }

  private varint(value: u64): void {
    this.reserve(10);
    let remaining = value;
    while (remaining >= 0x80) {
      unchecked((this.buffer[this.length++] = <u8>((remaining & 0x7f) | 0x80)));
      remaining >>= 7;
    }
    unchecked((this.buffer[this.length++] = <u8>remaining));
  }

  private reserve(extra: i32): void {
    const needed = this.length + extra;
    if (needed <= this.buffer.length) return;
    let capacity = this.buffer.length * 2;
    while (capacity < needed) capacity *= 2;
    const larger = new Uint8Array(capacity);
    memory.copy(larger.dataStart, this.buffer.dataStart, <usize>this.length);
    this.buffer = larger;
  }
}

// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF. Protobuf
// requires it of string fields, and AssemblyScript's decoder would accept anything.
export function isValidUtf8(pointer: usize, length: i32): bool {
  let index = 0;
  while (index < length) {
    const first = <u32>load<u8>(pointer + <usize>index);
    if (first < 0x80) {
      index++;
      continue;
    }
    let following: i32;
    let smallest: u32;
    let code: u32;
    if ((first & 0xe0) == 0xc0) {
      following = 1; smallest = 0x80; code = first & 0x1f;
    } else if ((first & 0xf0) == 0xe0) {
      following = 2; smallest = 0x800; code = first & 0x0f;
    } else if ((first & 0xf8) == 0xf0) {
      following = 3; smallest = 0x10000; code = first & 0x07;
    } else {
      return false;
    }
    if (index + following >= length) return false;
    for (let offset = 1; offset <= following; offset++) {
      const byte = <u32>load<u8>(pointer + <usize>(index + offset));
      if ((byte & 0xc0) != 0x80) return false;
      code = (code << 6) | (byte & 0x3f);
    }
    if (code < smallest || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return false;
    index += following + 1;
  }
  return true;
}
