// The Pub/Sub API is served over TLS only; the emulator makes its own certificate at start with the `selfsigned`
// package (X.509 through Node's WebCrypto, no openssl binary needed), valid for 127.0.0.1 and localhost. Clients
// trust it by taking the PEM as their root certificate: nothing turns certificate checks off.
import selfsigned from 'selfsigned';

export type ServerCertificate = { certificatePem: string; privateKeyPem: string };

export async function generateServerCertificate(): Promise<ServerCertificate> {
  const now = new Date();
  const pems = await selfsigned.generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(now.getTime() - 60_000),
    notAfterDate: new Date(now.getTime() + 30 * 24 * 60 * 60 * 1000),
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'keyUsage', digitalSignature: true, keyCertSign: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
        ],
      },
    ],
  });
  return { certificatePem: pems.cert, privateKeyPem: pems.private };
}
