// SM2 signature verification (GB/T 32918.2-2016) in the browser, which WebCrypto lacks: the
// recommended curve of GB/T 32918.5, BigInt arithmetic in Jacobian coordinates, the message
// digest e = SM3(Z_A || M) with the default distinguishing id "1234567812345678" (what the node's
// signers use, causeway.crypto.keys). Only verification, with public data: nothing here needs to
// run in constant time.

import { concatenate, fromText } from "./bytes.js";
import { sm3 } from "./hashing.js";

const P = 0xfffffffeffffffffffffffffffffffffffffffff00000000ffffffffffffffffn;
const A = 0xfffffffeffffffffffffffffffffffffffffffff00000000fffffffffffffffcn;
const B = 0x28e9fa9e9d9f5e344d5a9e4bcf6509a7f39789f515ab8f92ddbcbd414d940e93n;
const N = 0xfffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123n;
const GX = 0x32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7n;
const GY = 0xbc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0n;
export const DEFAULT_ID = "1234567812345678";

const modulo = (value, modulus) => ((value % modulus) + modulus) % modulus;

function inverse(value, modulus) {
  // Extended Euclid: modulus is prime and value is not a multiple of it.
  let [low, high] = [modulo(value, modulus), modulus];
  let [lowCoefficient, highCoefficient] = [1n, 0n];
  while (low > 1n) {
    const ratio = high / low;
    [low, high] = [high - ratio * low, low];
    [lowCoefficient, highCoefficient] = [highCoefficient - ratio * lowCoefficient, lowCoefficient];
  }
  return modulo(lowCoefficient, modulus);
}

// Points as [X, Y, Z] (Jacobian); Z = 0 is the point at infinity.
const INFINITY = [1n, 1n, 0n];

function double([x, y, z]) {
  if (z === 0n || y === 0n) return INFINITY;
  const ySquared = modulo(y * y, P);
  const s = modulo(4n * x * ySquared, P);
  const zSquared = modulo(z * z, P);
  const m = modulo(3n * x * x + A * zSquared * zSquared, P);
  const x3 = modulo(m * m - 2n * s, P);
  const y3 = modulo(m * (s - x3) - 8n * ySquared * ySquared, P);
  const z3 = modulo(2n * y * z, P);
  return [x3, y3, z3];
}

function add(first, second) {
  if (first[2] === 0n) return second;
  if (second[2] === 0n) return first;
  const [x1, y1, z1] = first;
  const [x2, y2, z2] = second;
  const z1Squared = modulo(z1 * z1, P);
  const z2Squared = modulo(z2 * z2, P);
  const u1 = modulo(x1 * z2Squared, P);
  const u2 = modulo(x2 * z1Squared, P);
  const s1 = modulo(y1 * z2Squared * z2, P);
  const s2 = modulo(y2 * z1Squared * z1, P);
  if (u1 === u2) return s1 === s2 ? double(first) : INFINITY;
  const h = modulo(u2 - u1, P);
  const r = modulo(s2 - s1, P);
  const hSquared = modulo(h * h, P);
  const hCubed = modulo(hSquared * h, P);
  const x3 = modulo(r * r - hCubed - 2n * u1 * hSquared, P);
  const y3 = modulo(r * (u1 * hSquared - x3) - s1 * hCubed, P);
  const z3 = modulo(h * z1 * z2, P);
  return [x3, y3, z3];
}

function multiply(scalar, point) {
  let result = INFINITY;
  let addend = point;
  let remaining = scalar;
  while (remaining > 0n) {
    if (remaining & 1n) result = add(result, addend);
    addend = double(addend);
    remaining >>= 1n;
  }
  return result;
}

function affineX([x, , z]) {
  const zInverse = inverse(z, P);
  return modulo(x * zInverse * zInverse, P);
}

const toBigInt = (bytes) => bytes.reduce((value, byte) => (value << 8n) | BigInt(byte), 0n);

function toBytes(value) {
  const bytes = new Uint8Array(32);
  let remaining = value;
  for (let index = 31; index >= 0; index -= 1) {
    bytes[index] = Number(remaining & 0xffn);
    remaining >>= 8n;
  }
  return bytes;
}

function parsePublicKey(raw) {
  if (raw.length !== 65 || raw[0] !== 4) throw new Error("an SM2 public key is 65 bytes, 04 || x || y");
  const x = toBigInt(raw.subarray(1, 33));
  const y = toBigInt(raw.subarray(33));
  if (x >= P || y >= P || modulo(y * y - (x * x * x + A * x + B), P) !== 0n) {
    throw new Error("the SM2 public key is not a point of the curve");
  }
  return [x, y, 1n];
}

// Z_A = SM3(ENTL || ID || a || b || xG || yG || xA || yA).
function distinguishingHash(rawPublicKey, id) {
  const idBytes = fromText(id);
  const bits = idBytes.length * 8;
  return sm3(
    concatenate(
      Uint8Array.of((bits >> 8) & 0xff, bits & 0xff),
      idBytes,
      ...[A, B, GX, GY].map(toBytes),
      rawPublicKey.subarray(1, 33),
      rawPublicKey.subarray(33),
    ),
  );
}

// DER SEQUENCE { INTEGER r, INTEGER s } to [r, s].
function parseSignature(der) {
  const fail = () => {
    throw new Error("the SM2 signature is not DER (r, s)");
  };
  if (der[0] !== 0x30) fail();
  let offset = der[1] & 0x80 ? 2 + (der[1] & 0x7f) : 2;
  const integers = [];
  for (let count = 0; count < 2; count += 1) {
    if (der[offset] !== 0x02) fail();
    const length = der[offset + 1];
    integers.push(toBigInt(der.subarray(offset + 2, offset + 2 + length)));
    offset += 2 + length;
  }
  if (offset !== der.length) fail();
  return integers;
}

// Whether `signature` (DER) is rawPublicKey's SM2 signature of `message`; throws on malformed
// keys or signatures.
export function sm2Verify(rawPublicKey, signature, message, id = DEFAULT_ID) {
  const publicPoint = parsePublicKey(rawPublicKey);
  const [r, s] = parseSignature(signature);
  if (r < 1n || r >= N || s < 1n || s >= N) return false;
  const digest = toBigInt(sm3(concatenate(distinguishingHash(rawPublicKey, id), message)));
  const t = modulo(r + s, N);
  if (t === 0n) return false;
  const point = add(multiply(s, [GX, GY, 1n]), multiply(t, publicPoint));
  if (point[2] === 0n) return false;
  return modulo(digest + affineX(point), N) === r;
}
