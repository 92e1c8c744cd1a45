import { createDecipheriv, createHash, createHmac, createPrivateKey, pbkdf2, timingSafeEqual, X509Certificate } from 'node:crypto';
import { promisify } from 'node:util';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { fromBer, toArrayBuffer } from './asn1.js';
import { CertError } from './errors.js';
import { rc2CbcDecrypt } from './rc2.js';

const pbkdf2Async = promisify(pbkdf2);

export interface Pkcs12Contents {
  /** DER certificates in file order. */
  certificates: Uint8Array[];
  /** PKCS#8 DER private keys, decrypted. */
  privateKeys: Uint8Array[];
}

const oids = {
  data: '1.2.840.113549.1.7.1',
  encryptedData: '1.2.840.113549.1.7.6',
  keyBag: '1.2.840.113549.1.12.10.1.1',
  shroudedKeyBag: '1.2.840.113549.1.12.10.1.2',
  certBag: '1.2.840.113549.1.12.10.1.3',
  safeContentsBag: '1.2.840.113549.1.12.10.1.6',
  x509Certificate: '1.2.840.113549.1.9.22.1',
  pbes2: '1.2.840.113549.1.5.13',
  pbkdf2: '1.2.840.113549.1.5.12',
};

const hashes: Record<string, { name: string; blockSize: number; size: number }> = {
  '1.3.14.3.2.26': { name: 'sha1', blockSize: 64, size: 20 },
  '2.16.840.1.101.3.4.2.4': { name: 'sha224', blockSize: 64, size: 28 },
  '2.16.840.1.101.3.4.2.1': { name: 'sha256', blockSize: 64, size: 32 },
  '2.16.840.1.101.3.4.2.2': { name: 'sha384', blockSize: 128, size: 48 },
  '2.16.840.1.101.3.4.2.3': { name: 'sha512', blockSize: 128, size: 64 },
};

const hmacPrfs: Record<string, string> = {
  '1.2.840.113549.2.7': 'sha1',
  '1.2.840.113549.2.8': 'sha224',
  '1.2.840.113549.2.9': 'sha256',
  '1.2.840.113549.2.10': 'sha384',
  '1.2.840.113549.2.11': 'sha512',
};

const pbes2Ciphers: Record<string, { cipher: string; keyLength: number }> = {
  '2.16.840.1.101.3.4.1.2': { cipher: 'aes-128-cbc', keyLength: 16 },
  '2.16.840.1.101.3.4.1.22': { cipher: 'aes-192-cbc', keyLength: 24 },
  '2.16.840.1.101.3.4.1.42': { cipher: 'aes-256-cbc', keyLength: 32 },
  '1.2.840.113549.3.7': { cipher: 'des-ede3-cbc', keyLength: 24 },
};

/** RFC 7292 appendix C: the password-based schemes that predate PBES2. */
const pkcs12Pbes: Record<string, { cipher: 'des-ede3-cbc' | 'des-ede-cbc' | 'rc2'; keyLength: number; rc2Bits?: number; name: string }> = {
  '1.2.840.113549.1.12.1.3': { cipher: 'des-ede3-cbc', keyLength: 24, name: 'pbeWithSHAAnd3-KeyTripleDES-CBC' },
  '1.2.840.113549.1.12.1.4': { cipher: 'des-ede-cbc', keyLength: 16, name: 'pbeWithSHAAnd2-KeyTripleDES-CBC' },
  '1.2.840.113549.1.12.1.5': { cipher: 'rc2', keyLength: 16, rc2Bits: 128, name: 'pbeWithSHAAnd128BitRC2-CBC' },
  '1.2.840.113549.1.12.1.6': { cipher: 'rc2', keyLength: 5, rc2Bits: 40, name: 'pbewithSHAAnd40BitRC2-CBC' },
};

/**
 * Contents of an OCTET STRING, joining the pieces of a BER constructed one (Windows writes
 * those). pkijs hands implicitly tagged content over as a generic primitive, so accept that too.
 */
function octets(value: unknown): Uint8Array {
  if (value instanceof asn1js.Constructed || (value instanceof asn1js.OctetString && value.valueBlock.isConstructed)) {
    return Buffer.concat((value.valueBlock.value as unknown[]).map((piece) => octets(piece)));
  }
  if (value instanceof asn1js.OctetString || value instanceof asn1js.Primitive) return value.valueBlock.valueHexView;
  throw new CertError('p12_malformed', 'the PKCS#12 file has an unexpected structure (OCTET STRING expected)');
}

function parseDer(bytes: Uint8Array, what: string): asn1js.AsnType {
  const parsed = fromBer(bytes);
  if (!parsed) throw new CertError('p12_malformed', `the PKCS#12 ${what} is not valid DER`);
  return parsed.result;
}

/** PKCS#12 passwords are BMPString (UTF-16BE) with a two-byte terminator. */
function bmpPassword(password: string): Uint8Array {
  const utf16le = Buffer.from(`${password}\u0000`, 'utf16le');
  return utf16le.swap16();
}

/** RFC 7292 appendix B.2: the PKCS#12 key derivation, for MAC keys and the legacy ciphers. */
function pkcs12Kdf(hashName: string, password: Uint8Array, salt: Uint8Array, id: 1 | 2 | 3, iterations: number, length: number): Uint8Array {
  const hash = Object.values(hashes).find((h) => h.name === hashName);
  if (!hash) throw new CertError('p12_unsupported', `the PKCS#12 key derivation uses an unsupported hash ${hashName}`);
  const v = hash.blockSize;
  const fill = (input: Uint8Array): Uint8Array => {
    if (input.length === 0) return new Uint8Array(0);
    const out = new Uint8Array(v * Math.ceil(input.length / v));
    for (let i = 0; i < out.length; i++) out[i] = input[i % input.length] as number;
    return out;
  };
  const diversifier = new Uint8Array(v).fill(id);
  const block = Buffer.concat([fill(salt), fill(password)]);
  const result = new Uint8Array(length);
  for (let produced = 0; produced < length;) {
    let a: Uint8Array = createHash(hash.name).update(diversifier).update(block).digest();
    for (let i = 1; i < iterations; i++) a = createHash(hash.name).update(a).digest();
    result.set(a.subarray(0, Math.min(a.length, length - produced)), produced);
    produced += a.length;
    if (produced >= length) break;
    const b = fill(a).subarray(0, v);
    for (let offset = 0; offset < block.length; offset += v) {
      let carry = 1;
      for (let k = v - 1; k >= 0; k--) {
        const sum = (block[offset + k] as number) + (b[k] as number) + carry;
        block[offset + k] = sum & 0xff;
        carry = sum >> 8;
      }
    }
  }
  return result;
}

interface PasswordForms {
  utf8: Uint8Array;
  bmp: Uint8Array;
}

/** Checks the integrity MAC; which password encoding it accepted is reused for decryption. */
function verifyMac(pfx: pkijs.PFX, content: Uint8Array, password: string): PasswordForms {
  const utf8 = new Uint8Array(Buffer.from(password, 'utf8'));
  const candidates = [bmpPassword(password)];
  // Tools disagree on whether an empty password is no bytes or just the terminator.
  if (password === '') candidates.push(new Uint8Array(0));
  const macData = pfx.macData;
  if (!macData) return { utf8, bmp: candidates[0] as Uint8Array };
  const algorithm = macData.mac.digestAlgorithm.algorithmId;
  const hash = hashes[algorithm];
  if (!hash)
    throw new CertError('p12_unsupported', `the PKCS#12 integrity check uses an unsupported algorithm (${algorithm}); re-export it with AES-256 and SHA-256`);
  const expected = octets(macData.mac.digest);
  const salt = octets(macData.macSalt);
  const iterations = macData.iterations ?? 1;
  for (const bmp of candidates) {
    const key = pkcs12Kdf(hash.name, bmp, salt, 3, iterations, hash.size);
    const actual = createHmac(hash.name, key).update(content).digest();
    if (actual.length === expected.length && timingSafeEqual(actual, expected)) return { utf8, bmp };
  }
  throw new CertError('p12_bad_password', 'the PKCS#12 password is wrong');
}

/** Without a MAC, the only sign of the right password: every key and certificate parses. */
function decryptedWell(contents: Pkcs12Contents): boolean {
  try {
    for (const key of contents.privateKeys) createPrivateKey({ key: Buffer.from(key), format: 'der', type: 'pkcs8' });
    for (const cert of contents.certificates) new X509Certificate(cert);
    return true;
  } catch {
    return false;
  }
}

function badPassword(): CertError {
  return new CertError('p12_bad_password', 'the PKCS#12 password is wrong (decryption failed)');
}

function decipher(cipher: string, key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array {
  try {
    const d = createDecipheriv(cipher, key, iv);
    return Buffer.concat([d.update(data), d.final()]);
  } catch {
    throw badPassword();
  }
}

async function decrypt(algorithm: pkijs.AlgorithmIdentifier, data: Uint8Array, password: PasswordForms): Promise<Uint8Array> {
  const legacy = pkcs12Pbes[algorithm.algorithmId];
  if (legacy) {
    const params = algorithm.algorithmParams as asn1js.Sequence | undefined;
    const [saltNode, iterationsNode] = params instanceof asn1js.Sequence ? params.valueBlock.value : [];
    if (!(iterationsNode instanceof asn1js.Integer)) throw new CertError('p12_malformed', `the ${legacy.name} parameters are damaged`);
    const salt = octets(saltNode);
    const iterations = iterationsNode.valueBlock.valueDec;
    const key = pkcs12Kdf('sha1', password.bmp, salt, 1, iterations, legacy.keyLength);
    const iv = pkcs12Kdf('sha1', password.bmp, salt, 2, iterations, 8);
    if (legacy.cipher === 'rc2') {
      const plain = rc2CbcDecrypt(key, legacy.rc2Bits ?? 128, iv, data);
      if (!plain) throw badPassword();
      return plain;
    }
    return decipher(legacy.cipher, key, iv, data);
  }
  if (algorithm.algorithmId !== oids.pbes2) {
    throw new CertError('p12_unsupported', `the PKCS#12 file is encrypted with an unsupported scheme (${algorithm.algorithmId}); re-export it with AES-256`);
  }
  let pbes2: pkijs.PBES2Params;
  let kdf: pkijs.PBKDF2Params;
  try {
    pbes2 = new pkijs.PBES2Params({ schema: algorithm.algorithmParams });
    if (pbes2.keyDerivationFunc.algorithmId !== oids.pbkdf2) throw new Error('not PBKDF2');
    kdf = new pkijs.PBKDF2Params({ schema: pbes2.keyDerivationFunc.algorithmParams });
  } catch (error) {
    if (error instanceof CertError) throw error;
    throw new CertError('p12_unsupported', 'the PKCS#12 file uses PBES2 with a key derivation other than PBKDF2');
  }
  const cipher = pbes2Ciphers[pbes2.encryptionScheme.algorithmId];
  if (!cipher)
    throw new CertError('p12_unsupported', `the PKCS#12 file uses an unsupported cipher (${pbes2.encryptionScheme.algorithmId}); re-export it with AES-256`);
  const prf = kdf.prf ? hmacPrfs[kdf.prf.algorithmId] : 'sha1';
  if (!prf) throw new CertError('p12_unsupported', `the PKCS#12 file uses an unsupported PBKDF2 hash (${kdf.prf?.algorithmId})`);
  const salt = octets(kdf.salt);
  const iv = octets(pbes2.encryptionScheme.algorithmParams);
  const key = await pbkdf2Async(password.utf8, salt, kdf.iterationCount, kdf.keyLength ?? cipher.keyLength, prf);
  return decipher(cipher.cipher, key, iv, data);
}

function sequenceItems(node: asn1js.AsnType, what: string): asn1js.AsnType[] {
  if (!(node instanceof asn1js.Sequence)) throw new CertError('p12_malformed', `the PKCS#12 ${what} is not a SEQUENCE`);
  return node.valueBlock.value;
}

/** The single value inside an explicit [0] tag. */
function explicitValue(node: asn1js.AsnType | undefined, what: string): asn1js.AsnType {
  const inner = node instanceof asn1js.Constructed && node.idBlock.tagClass === 3 ? node.valueBlock.value[0] : undefined;
  if (!inner) throw new CertError('p12_malformed', `the PKCS#12 ${what} has no value`);
  return inner;
}

async function readSafeContents(bytes: Uint8Array, password: PasswordForms, out: Pkcs12Contents, depth = 0): Promise<void> {
  if (depth > 4) throw new CertError('p12_malformed', 'the PKCS#12 file nests its contents too deeply');
  for (const bag of sequenceItems(parseDer(bytes, 'contents'), 'contents')) {
    const [idNode, valueNode] = sequenceItems(bag, 'bag');
    if (!(idNode instanceof asn1js.ObjectIdentifier)) throw new CertError('p12_malformed', 'a PKCS#12 bag has no type');
    const value = explicitValue(valueNode, 'bag');
    switch (idNode.valueBlock.toString()) {
      case oids.keyBag:
        out.privateKeys.push(new Uint8Array(value.valueBeforeDecodeView));
        break;
      case oids.shroudedKeyBag: {
        const [algorithmNode, encrypted] = sequenceItems(value, 'encrypted key');
        const algorithm = new pkijs.AlgorithmIdentifier({ schema: algorithmNode });
        out.privateKeys.push(await decrypt(algorithm, octets(encrypted), password));
        break;
      }
      case oids.certBag: {
        const [certType, certValue] = sequenceItems(value, 'certificate bag');
        // SDSI certificates exist in the standard but not in practice; skip them.
        if (certType instanceof asn1js.ObjectIdentifier && certType.valueBlock.toString() === oids.x509Certificate) {
          out.certificates.push(new Uint8Array(octets(explicitValue(certValue, 'certificate bag'))));
        }
        break;
      }
      case oids.safeContentsBag:
        await readSafeContents(new Uint8Array(value.valueBeforeDecodeView), password, out, depth + 1);
        break;
      default:
        break;
    }
  }
}

/**
 * Reads a PKCS#12 / PFX file. A wrong password is always `p12_bad_password`: the integrity
 * MAC is checked first. A file without one can only fail on the cipher padding, which a
 * wrong key passes about once in 256 tries; so there, contents that do not parse after
 * decryption are a wrong password too.
 */
export async function readPkcs12(der: Uint8Array, password: string): Promise<Pkcs12Contents> {
  let pfx: pkijs.PFX;
  try {
    pfx = pkijs.PFX.fromBER(toArrayBuffer(der));
  } catch (error) {
    throw new CertError('p12_malformed', 'the file is not a PKCS#12 (PFX) file', { cause: error });
  }
  try {
    if (pfx.authSafe.contentType !== oids.data) {
      throw new CertError('p12_unsupported', 'the PKCS#12 file uses public-key integrity mode; re-export it with a password');
    }
    const content = octets(pfx.authSafe.content);
    const password_ = verifyMac(pfx, content, password);
    const authenticatedSafe = new pkijs.AuthenticatedSafe({ schema: parseDer(content, 'authenticated safe') });
    const out: Pkcs12Contents = { certificates: [], privateKeys: [] };
    for (const info of authenticatedSafe.safeContents) {
      if (info.contentType === oids.data) {
        await readSafeContents(octets(info.content), password_, out);
      } else if (info.contentType === oids.encryptedData) {
        const encrypted = new pkijs.EncryptedData({ schema: info.content });
        const ciphertext = encrypted.encryptedContentInfo.encryptedContent;
        if (!ciphertext) continue;
        const plain = await decrypt(encrypted.encryptedContentInfo.contentEncryptionAlgorithm, octets(ciphertext), password_);
        await readSafeContents(plain, password_, out);
      } else {
        throw new CertError('p12_unsupported', 'the PKCS#12 file encrypts its contents to a public key; re-export it with a password');
      }
    }
    if (!pfx.macData && !decryptedWell(out)) throw badPassword();
    return out;
  } catch (error) {
    if (!pfx.macData && error instanceof CertError && error.code === 'p12_malformed') throw badPassword();
    if (error instanceof CertError) throw error;
    throw new CertError('p12_malformed', `the PKCS#12 file is damaged: ${(error as Error).message}`, { cause: error });
  }
}
