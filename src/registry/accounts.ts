// Account passwords: a slow, salted scrypt hash kept in the store and its check. The password
// itself is never kept.
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/** scrypt's cost (N). 2^15 takes ~100 ms here; tests pass a small one. */
export const DEFAULT_SCRYPT_COST = 2 ** 15;

function derive(password: string, salt: Buffer, cost: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(
      password.normalize('NFKC'),
      salt,
      32,
      { N: cost, r: 8, p: 1, maxmem: 256 * cost * 8 + 1024 * 1024 },
      (error, key) => (error ? reject(error) : resolve(key)),
    ),
  );
}

/** A slow, salted hash to keep: `scrypt$<N>$<salt>$<hash>` (base64). The password itself is never kept. */
export async function hashPassword(password: string, cost = DEFAULT_SCRYPT_COST): Promise<string> {
  const salt = randomBytes(16);
  return `scrypt$${cost}$${salt.toString('base64')}$${(await derive(password, salt, cost)).toString('base64')}`;
}

export async function checkPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, cost, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !cost || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const actual = await derive(password, Buffer.from(salt, 'base64'), Number(cost));
  return actual.byteLength === expected.byteLength && timingSafeEqual(actual, expected);
}
