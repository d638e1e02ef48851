// The signature appended to a module file (scripts/sign-file), read as kmod's modinfo shows it
// (libkmod-signature.c, built with OpenSSL as Debian's kmod is).
//
// Layout of a signed module (the signature covers the uncompressed image, so read it there):
//   [ module ELF ][ signer ][ key id ][ signature ][ struct module_signature ][ magic ]
//   magic = "~Module signature appended~\n" (28 bytes)
//   struct module_signature (12 bytes): u8 algo (0 DSA, 1 RSA), u8 hash (index into
//   md4 md5 sha1 rmd160 sha256 sha384 sha512 sha224 sm3), u8 id_type (0 PGP, 1 X509, 2 PKCS#7),
//   u8 signer_len, u8 key_id_len, u8 pad[3], u32 sig_len (big endian).
// For PKCS#7 (what every current kernel writes; signer_len = key_id_len = 0) the signature is a
// DER ContentInfo holding SignedData; kmod shows its first SignerInfo: the issuer's commonName
// (or, lacking one, the last name attribute) as signer, the serial number as key id, the digest
// algorithm, and the encrypted digest. Anything it cannot parse means "no signature info".
import { DerError, TAG, children, expect, integerMagnitude, oid, readTlv, type Tlv } from './der.js'
import { latin1 } from './elf.js'

export interface SignatureInfo {
  /** "PKCS#7", "X509" or "PGP" */
  idType: string
  signer: string
  keyId: Uint8Array
  hashAlgo: string
  signature: Uint8Array
}

export const SIG_MAGIC = '~Module signature appended~\n'

const PKEY_ALGO = ['DSA', 'RSA']
/** The hashes a module signature can name: struct module_signature's `hash` indexes this list. */
export const HASH_ALGO = ['md4', 'md5', 'sha1', 'rmd160', 'sha256', 'sha384', 'sha512', 'sha224', 'sm3'] as const
const ID_TYPE = ['PGP', 'X509', 'PKCS#7']
const PKEY_ID_PKCS7 = 2

const HASH_OIDS: Readonly<Record<string, string>> = {
  '1.2.840.113549.2.4': 'md4',
  '1.2.840.113549.2.5': 'md5',
  '1.3.14.3.2.26': 'sha1',
  '1.3.36.3.2.1': 'rmd160',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
  '2.16.840.1.101.3.4.2.4': 'sha224',
  '1.2.156.10197.1.401': 'sm3',
}
const OID_SIGNED_DATA = '1.2.840.113549.1.7.2'
const OID_COMMON_NAME = '2.5.4.3'

/** The string a C caller sees: the bytes up to the first NUL. */
function cBytes(b: Uint8Array, start: number, end: number): string {
  let i = start
  while (i < end && b[i] !== 0) i++
  return latin1(b, start, i)
}

/** The signer, key id, hash and signature out of a PKCS#7 SignedData, or null. */
function fromPkcs7(b: Uint8Array, start: number, end: number): Omit<SignatureInfo, 'idType'> | null {
  try {
    const ci = expect(readTlv(b, start, end), TAG.SEQUENCE, 'ContentInfo')
    const [type, explicit] = children(b, ci)
    if (oid(b, expect(type, TAG.OID, 'contentType')) !== OID_SIGNED_DATA) return null
    const sd = expect(children(b, expect(explicit, TAG.CONTEXT_0, 'content'))[0], TAG.SEQUENCE, 'SignedData')
    const sdParts = children(b, sd)
    const signerInfos = expect(sdParts[sdParts.length - 1], TAG.SET, 'signerInfos')
    const si = children(b, signerInfos)[0]
    if (!si) return null
    const [, ias, digestAlg, ...rest] = children(b, expect(si, TAG.SEQUENCE, 'SignerInfo'))
    // CMS signers named by subjectKeyIdentifier ([0]) are not PKCS#7: OpenSSL's d2i_PKCS7 fails
    const [issuer, serial] = children(b, expect(ias, TAG.SEQUENCE, 'issuerAndSerialNumber'))
    const digest = HASH_OIDS[oid(b, expect(children(b, expect(digestAlg, TAG.SEQUENCE, 'digestAlgorithm'))[0], TAG.OID, 'OID'))]
    if (!digest) return null
    const afterAttrs = rest[0]?.tag === TAG.CONTEXT_0 ? rest.slice(1) : rest
    const encDigest = expect(afterAttrs[1], TAG.OCTET_STRING, 'encryptedDigest')

    // X509_NAME_ENTRY list: every AttributeTypeAndValue of every RDN, in order
    const attrs: { type: string; value: Tlv }[] = []
    for (const rdn of children(b, expect(issuer, TAG.SEQUENCE, 'Name'))) {
      for (const atv of children(b, expect(rdn, TAG.SET, 'RDN'))) {
        const [t, v] = children(b, expect(atv, TAG.SEQUENCE, 'AttributeTypeAndValue'))
        attrs.push({ type: oid(b, expect(t, TAG.OID, 'attribute type')), value: v })
      }
    }
    const cn = attrs.find((a) => a.type === OID_COMMON_NAME) ?? attrs[attrs.length - 1]
    return {
      signer: cn && cn.value ? cBytes(b, cn.value.start, cn.value.end) : '',
      keyId: integerMagnitude(b, expect(serial, TAG.INTEGER, 'serialNumber')),
      hashAlgo: digest,
      signature: b.slice(encDigest.start, encDigest.end),
    }
  } catch (err) {
    // malformed DER is "no signature info", as kmod shows it; anything else is a bug to see
    if (err instanceof DerError) return null
    throw err
  }
}

/** The module's signature information, or null for an unsigned (or unreadably signed) module. */
export function readSignature(image: Uint8Array): SignatureInfo | null {
  const magicLen = SIG_MAGIC.length
  if (image.length < magicLen) return null
  let size = image.length - magicLen
  if (latin1(image, size, image.length) !== SIG_MAGIC) return null
  if (size < 12) return null
  size -= 12
  const [algo, hash, idType, signerLen, keyIdLen] = image.subarray(size, size + 5)
  const sigLen = new DataView(image.buffer, image.byteOffset + size + 8, 4).getUint32(0, false)
  if (algo >= PKEY_ALGO.length || hash >= HASH_ALGO.length || idType >= ID_TYPE.length) return null
  if (sigLen === 0 || size < signerLen + keyIdLen + sigLen) return null
  if (idType === PKEY_ID_PKCS7) {
    const p = fromPkcs7(image, size - sigLen, size)
    return p && { idType: ID_TYPE[idType], ...p }
  }
  const sigStart = size - sigLen
  const keyStart = sigStart - keyIdLen
  const signerStart = keyStart - signerLen
  return {
    idType: ID_TYPE[idType],
    signer: latin1(image, signerStart, keyStart),
    keyId: image.slice(keyStart, sigStart),
    hashAlgo: HASH_ALGO[hash],
    signature: image.slice(sigStart, size),
  }
}

/** kmod's hex form: "01:AB:..." with a line break and two tabs after every 20 bytes. */
export function hexColumns(bytes: Uint8Array): string {
  let s = ''
  for (let i = 0; i < bytes.length; i++) {
    s += bytes[i].toString(16).toUpperCase().padStart(2, '0')
    if (i < bytes.length - 1) {
      s += ':'
      if ((i + 1) % 20 === 0) s += '\n\t\t'
    }
  }
  return s
}
