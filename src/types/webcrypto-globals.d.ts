// The WebCrypto types the @hpke packages name as globals (a browser's lib.dom), made Node's own
// (node:crypto's webcrypto): without them every key those packages hand back is typed as unknown.
import type { webcrypto } from 'node:crypto';

declare global {
  type Crypto = webcrypto.Crypto;
  type CryptoKey = webcrypto.CryptoKey;
  type CryptoKeyPair = webcrypto.CryptoKeyPair;
  type HmacKeyGenParams = webcrypto.HmacKeyGenParams;
  type JsonWebKey = webcrypto.JsonWebKey;
  type KeyAlgorithm = webcrypto.KeyAlgorithm;
  type KeyUsage = webcrypto.KeyUsage;
  type SubtleCrypto = webcrypto.SubtleCrypto;
}
