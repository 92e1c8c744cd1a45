// tsyringe inside @peculiar/x509 needs the Reflect metadata API before the module loads.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

// The library reads its WebCrypto from a process-wide provider; Node's implementation is the
// one every caller in the service wants, so set it once here and import x509 only via this module.
x509.cryptoProvider.set(webcrypto as unknown as ProviderCrypto);

// service/ compiles without the DOM lib, so the WebCrypto types come from Node's declarations.
export type CryptoKeyPair = webcrypto.CryptoKeyPair;
export type RsaHashedImportParams = webcrypto.RsaHashedImportParams;
export type EcKeyImportParams = webcrypto.EcKeyImportParams;
export type EcdsaParams = webcrypto.EcdsaParams;
export type EcKeyGenParams = webcrypto.EcKeyGenParams;
export type RsaHashedKeyGenParams = webcrypto.RsaHashedKeyGenParams;

// What @peculiar/x509 declares, which resolves to the DOM types where the DOM lib is loaded
// (the test build) and to `any` where it is not (the service build); one cast bridges both.
type ProviderCrypto = ReturnType<typeof x509.cryptoProvider.get>;
export type X509KeyPair = x509.X509CertificateCreateSelfSignedParams['keys'];
export type X509SigningAlgorithm = NonNullable<x509.X509CertificateCreateParamsBase['signingAlgorithm']>;

export { x509, webcrypto };
export const subtle = webcrypto.subtle;
