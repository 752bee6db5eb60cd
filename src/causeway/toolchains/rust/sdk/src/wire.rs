//! Arguments, results and event data: the protobuf wire encoding of docs/contract-abi.md.
//!
//! [`Arguments`] reads a message by field number (the arguments are fields 1, 2, ... in the
//! interface's order). It tolerates any field order and skips unknown fields, as protobuf does;
//! when a field appears twice, the last one wins. Malformed bytes, a field of the wrong wire
//! type, a value out of its type's range or a string that is not UTF-8 revert the call with a
//! message naming the field. A missing field reads as its type's default (0, false, empty), since
//! the canonical form leaves defaults out.
//!
//! [`Writer`] writes the one canonical form: fields in increasing number, defaults left out.

use alloc::vec::Vec;

use crate::{decimal, revert_with};

const WIRE_VARINT: u64 = 0;
const WIRE_FIXED64: u64 = 1;
const WIRE_LENGTH_DELIMITED: u64 = 2;
const WIRE_FIXED32: u64 = 5;
const VARINT_BYTES_MAX: usize = 10;

/// A protobuf field value as it sits on the wire.
#[derive(Clone, Copy)]
enum Value<'a> {
    Varint(u64),
    Fixed64,
    Fixed32,
    Delimited(&'a [u8]),
}

/// Reads one varint at `bytes[*position..]`, advancing `position`; None when truncated, longer
/// than 10 bytes or above 64 bits.
fn read_varint(bytes: &[u8], position: &mut usize) -> Option<u64> {
    let mut value: u64 = 0;
    for index in 0..VARINT_BYTES_MAX {
        let byte = *bytes.get(*position + index)?;
        let low = (byte & 0x7f) as u64;
        // The tenth byte holds only bit 63.
        if index == VARINT_BYTES_MAX - 1 && low > 1 {
            return None;
        }
        value |= low << (7 * index);
        if byte & 0x80 == 0 {
            *position += index + 1;
            return Some(value);
        }
    }
    None
}

/// Reads one field (number and value) at `bytes[*position..]`; Err names what is wrong.
fn read_field<'a>(bytes: &'a [u8], position: &mut usize) -> Result<(u64, Value<'a>), &'static str> {
    let tag = read_varint(bytes, position).ok_or("a malformed field tag")?;
    let number = tag >> 3;
    if number == 0 || number > 0x1fff_ffff {
        return Err("a field number out of range");
    }
    let value = match tag & 7 {
        WIRE_VARINT => Value::Varint(read_varint(bytes, position).ok_or("a malformed varint")?),
        WIRE_FIXED64 => {
            skip(bytes, position, 8).ok_or("a truncated fixed64")?;
            Value::Fixed64
        }
        WIRE_LENGTH_DELIMITED => {
            let length = read_varint(bytes, position).ok_or("a malformed length")?;
            let length = usize::try_from(length).map_err(|_| "a length out of range")?;
            let start = *position;
            skip(bytes, position, length).ok_or("a truncated length-delimited field")?;
            Value::Delimited(&bytes[start..*position])
        }
        WIRE_FIXED32 => {
            skip(bytes, position, 4).ok_or("a truncated fixed32")?;
            Value::Fixed32
        }
        _ => return Err("an unsupported wire type (groups are not allowed)"),
    };
    Ok((number, value))
}

fn skip(bytes: &[u8], position: &mut usize, length: usize) -> Option<()> {
    let end = position.checked_add(length)?;
    if end > bytes.len() {
        return None;
    }
    *position = end;
    Some(())
}

/// The arguments of a call (or any message of the ABI's encoding), read by field number.
///
/// ```ignore
/// let arguments = causeway_contract::arguments(); // the call's input, checked once
/// let to = arguments.string(1);
/// let amount = arguments.uint64(2);
/// ```
pub struct Arguments {
    bytes: Vec<u8>,
}

impl Arguments {
    /// Checks the whole message once, so that a malformed one reverts before the contract does
    /// anything, whichever fields it reads.
    pub fn new(bytes: Vec<u8>) -> Arguments {
        let mut position = 0;
        while position < bytes.len() {
            if let Err(problem) = read_field(&bytes, &mut position) {
                revert_with(&[
                    "malformed arguments: ",
                    problem,
                    " at byte ",
                    decimal(position as u64).as_str(),
                ]);
            }
        }
        Arguments { bytes }
    }

    /// The raw bytes of the message.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The last occurrence of field `number`, or None.
    fn find(&self, number: u32) -> Option<Value<'_>> {
        let mut position = 0;
        let mut found = None;
        while position < self.bytes.len() {
            // Checked in `new`: a field always parses here.
            match read_field(&self.bytes, &mut position) {
                Ok((field, value)) if field == number as u64 => found = Some(value),
                Ok(_) => {}
                Err(_) => break,
            }
        }
        found
    }

    fn varint(&self, number: u32, type_name: &str) -> u64 {
        match self.find(number) {
            None => 0,
            Some(Value::Varint(value)) => value,
            Some(_) => wrong_type(number, type_name),
        }
    }

    fn delimited(&self, number: u32, type_name: &str) -> &[u8] {
        match self.find(number) {
            None => &[],
            Some(Value::Delimited(value)) => value,
            Some(_) => wrong_type(number, type_name),
        }
    }

    pub fn bool(&self, number: u32) -> bool {
        match self.varint(number, "bool") {
            0 => false,
            1 => true,
            _ => out_of_range(number, "bool"),
        }
    }

    pub fn uint32(&self, number: u32) -> u32 {
        u32::try_from(self.varint(number, "uint32"))
            .unwrap_or_else(|_| out_of_range(number, "uint32"))
    }

    pub fn uint64(&self, number: u32) -> u64 {
        self.varint(number, "uint64")
    }

    /// protobuf's `int64`: the varint of the two's complement.
    pub fn int64(&self, number: u32) -> i64 {
        self.varint(number, "int64") as i64
    }

    pub fn string(&self, number: u32) -> &str {
        core::str::from_utf8(self.delimited(number, "string")).unwrap_or_else(|_| {
            revert_with(&[
                "argument ",
                decimal(number as u64).as_str(),
                ": the string is not valid UTF-8",
            ])
        })
    }

    pub fn bytes(&self, number: u32) -> &[u8] {
        self.delimited(number, "bytes")
    }
}

fn wrong_type(number: u32, type_name: &str) -> ! {
    revert_with(&[
        "argument ",
        decimal(number as u64).as_str(),
        ": wrong wire type for ",
        type_name,
    ])
}

fn out_of_range(number: u32, type_name: &str) -> ! {
    revert_with(&[
        "argument ",
        decimal(number as u64).as_str(),
        ": value out of range for ",
        type_name,
    ])
}

/// Writes a message in the canonical form, for results ([`crate::return_data`]) and event data
/// ([`crate::emit`]). Fields must come in increasing number; a value equal to its default is
/// left out.
///
/// ```ignore
/// let mut data = causeway_contract::Writer::new();
/// data.string(1, from).string(2, to).uint64(3, amount);
/// causeway_contract::emit("transfer", data.as_bytes());
/// ```
#[derive(Default)]
pub struct Writer {
    bytes: Vec<u8>,
    last_number: u32,
}

impl Writer {
    pub fn new() -> Writer {
        Writer::default()
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// One canonical form means one order: a field written out of order is a bug in the
    /// contract, caught here (even when its value is the default and is left out) rather than
    /// as a mismatch on a client.
    fn check_order(&mut self, number: u32) {
        if number == 0 || number <= self.last_number {
            panic!(
                "Writer: field {} after field {}: fields go in increasing number",
                number, self.last_number
            );
        }
        self.last_number = number;
    }

    fn tag(&mut self, number: u32, wire_type: u64) {
        write_varint(&mut self.bytes, ((number as u64) << 3) | wire_type);
    }

    fn varint(&mut self, number: u32, value: u64) -> &mut Writer {
        self.check_order(number);
        if value != 0 {
            self.tag(number, WIRE_VARINT);
            write_varint(&mut self.bytes, value);
        }
        self
    }

    fn delimited(&mut self, number: u32, value: &[u8]) -> &mut Writer {
        self.check_order(number);
        if !value.is_empty() {
            self.tag(number, WIRE_LENGTH_DELIMITED);
            write_varint(&mut self.bytes, value.len() as u64);
            self.bytes.extend_from_slice(value);
        }
        self
    }

    pub fn bool(&mut self, number: u32, value: bool) -> &mut Writer {
        self.varint(number, value as u64)
    }

    pub fn uint32(&mut self, number: u32, value: u32) -> &mut Writer {
        self.varint(number, value as u64)
    }

    pub fn uint64(&mut self, number: u32, value: u64) -> &mut Writer {
        self.varint(number, value)
    }

    pub fn int64(&mut self, number: u32, value: i64) -> &mut Writer {
        self.varint(number, value as u64)
    }

    pub fn string(&mut self, number: u32, value: &str) -> &mut Writer {
        self.delimited(number, value.as_bytes())
    }

    pub fn bytes(&mut self, number: u32, value: &[u8]) -> &mut Writer {
        self.delimited(number, value)
    }
}

fn write_varint(bytes: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        bytes.push((value as u8) | 0x80);
        value >>= 7;
    }
    bytes.push(value as u8);
}
