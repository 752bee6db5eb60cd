// The two hash functions of Causeway's crypto profiles, in the browser: SHA-256 (intl) through
// WebCrypto, and SM3 (gm, GB/T 32905-2016) written out here, since WebCrypto has no SM3.
// Both take and give Uint8Array; both are async so that callers need not know which is which.

const SM3_IV = [
  0x7380166f, 0x4914b2b9, 0x172442d7, 0xda8a0600, 0xa96f30bc, 0x163138aa, 0xe38dee4d, 0xb0fb0e4e,
];

function rotateLeft(value, bits) {
  const shift = bits % 32;
  if (shift === 0) return value >>> 0;
  return ((value << shift) | (value >>> (32 - shift))) >>> 0;
}

function permutation0(value) {
  return (value ^ rotateLeft(value, 9) ^ rotateLeft(value, 17)) >>> 0;
}

function permutation1(value) {
  return (value ^ rotateLeft(value, 15) ^ rotateLeft(value, 23)) >>> 0;
}

// The message padded as the standard says: a 1 bit, zeros, and the length in bits as 64 bits.
function padMessage(message) {
  const bitLength = BigInt(message.length) * 8n;
  const paddedLength = Math.ceil((message.length + 9) / 64) * 64;
  const padded = new Uint8Array(paddedLength);
  padded.set(message);
  padded[message.length] = 0x80;
  const view = new DataView(padded.buffer);
  view.setBigUint64(paddedLength - 8, bitLength, false);
  return padded;
}

function compress(state, block, offset) {
  const words = new Uint32Array(68);
  const view = new DataView(block.buffer, block.byteOffset + offset, 64);
  for (let index = 0; index < 16; index += 1) words[index] = view.getUint32(index * 4, false);
  for (let index = 16; index < 68; index += 1) {
    words[index] =
      permutation1(words[index - 16] ^ words[index - 9] ^ rotateLeft(words[index - 3], 15)) ^
      rotateLeft(words[index - 13], 7) ^
      words[index - 6];
  }
  let [a, b, c, d, e, f, g, h] = state;
  for (let round = 0; round < 64; round += 1) {
    const constant = round < 16 ? 0x79cc4519 : 0x7a879d8a;
    const a12 = rotateLeft(a, 12);
    const ss1 = rotateLeft((a12 + e + rotateLeft(constant, round)) >>> 0, 7);
    const ss2 = (ss1 ^ a12) >>> 0;
    const ff = round < 16 ? a ^ b ^ c : (a & b) | (a & c) | (b & c);
    const gg = round < 16 ? e ^ f ^ g : (e & f) | (~e & g);
    const expanded = (words[round] ^ words[round + 4]) >>> 0;
    const tt1 = ((ff >>> 0) + d + ss2 + expanded) >>> 0;
    const tt2 = ((gg >>> 0) + h + ss1 + words[round]) >>> 0;
    d = c;
    c = rotateLeft(b, 9);
    b = a;
    a = tt1;
    h = g;
    g = rotateLeft(f, 19);
    f = e;
    e = permutation0(tt2);
  }
  const next = [a, b, c, d, e, f, g, h];
  for (let index = 0; index < 8; index += 1) state[index] = (state[index] ^ next[index]) >>> 0;
}

export function sm3(message) {
  const padded = padMessage(message);
  const state = SM3_IV.slice();
  for (let offset = 0; offset < padded.length; offset += 64) compress(state, padded, offset);
  const digest = new Uint8Array(32);
  const view = new DataView(digest.buffer);
  state.forEach((word, index) => view.setUint32(index * 4, word, false));
  return digest;
}

export async function sha256(message) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", message));
}

// The hash of a chain's crypto profile ("intl" or "gm"), as an async function of bytes.
export function hashOfProfile(profile) {
  if (profile === "gm") return async (message) => sm3(message);
  if (profile === "intl") return sha256;
  throw new Error(`unknown crypto profile ${JSON.stringify(profile)}`);
}
