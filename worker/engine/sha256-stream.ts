/**
 * Incremental SHA-256 for files too large to hash in one piece (WebCrypto's digest takes the whole
 * buffer). @noble/hashes is pure JavaScript (~160 MB/s on one core here); a host with a native
 * hasher (Node's crypto.createHash) can pass its own through `Sha256Factory`.
 */
import { sha256 } from '@noble/hashes/sha2.js';

export interface Sha256 {
  update(bytes: Uint8Array): void;
  hex(): string;
}

export type Sha256Factory = () => Sha256;

export const createSha256: Sha256Factory = () => {
  const hash = sha256.create();
  return {
    update: (bytes) => void hash.update(bytes),
    hex: () => [...hash.digest()].map((byte) => byte.toString(16).padStart(2, '0')).join(''),
  };
};

/** A lowercase hex SHA-256 digest, as flowfill.json, package hashes and Hugging Face's LFS ids spell them. */
export function isSha256Hex(value: unknown): value is string {
  return typeof value === 'string' && /^[0-9a-f]{64}$/.test(value);
}
