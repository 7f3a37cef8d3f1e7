// Salesforce record ids: 15 case-sensitive characters (3-char key prefix, pod, counter) plus a 3-character
// case-insensitive checksum suffix. The suffix encodes which characters of each 5-character chunk are upper
// case ("What are Salesforce IDs composed of?", Salesforce Help KB 000385008; the same algorithm is in
// jsforce-free tools such as the Salesforce Inspector). Clients compare the first 15 characters.

const suffixAlphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345';
const base62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Key prefixes of the entities the emulator knows (Object Reference, "Key prefixes"). */
export const keyPrefixes = {
  Contact: '003',
  Lead: '00Q',
  User: '005',
  Organization: '00D',
  Campaign: '701',
  CampaignMember: '00v',
  QueryLocator: '01g',
  AsyncApiJob: '750',
} as const;

export function checksumSuffix(id15: string): string {
  let suffix = '';
  for (let chunk = 0; chunk < 3; chunk += 1) {
    let bits = 0;
    for (let i = 0; i < 5; i += 1) {
      const ch = id15.charAt(chunk * 5 + i);
      if (ch >= 'A' && ch <= 'Z') bits |= 1 << i;
    }
    suffix += suffixAlphabet.charAt(bits);
  }
  return suffix;
}

export function to18(id15: string): string {
  return id15 + checksumSuffix(id15);
}

/** True when the string has the shape of a 15- or 18-character id with a correct suffix. */
export function isValidSalesforceId(id: string): boolean {
  if (!/^[a-zA-Z0-9]{15}([a-zA-Z0-9]{3})?$/.test(id)) return false;
  return id.length === 15 || checksumSuffix(id.slice(0, 15)) === id.slice(15).toUpperCase();
}

/** Ids are equal when their case-sensitive 15-character forms are (REST and SOQL accept either length). */
export function sameId(a: string, b: string): boolean {
  return a.slice(0, 15) === b.slice(0, 15);
}

function encodeBase62(value: number, width: number): string {
  let out = '';
  let rest = value;
  while (rest > 0) {
    out = base62.charAt(rest % 62) + out;
    rest = Math.floor(rest / 62);
  }
  return out.padStart(width, '0');
}

/** Makes ids for one emulated org: prefix + pod "Rj" + "0" + a 9-character base-62 counter, then the suffix. */
export class IdFactory {
  private counter = 0;

  constructor(private readonly pod = 'Rj') {}

  next(prefix: string): string {
    this.counter += 1;
    // Start high enough that ids contain letters of both cases, so checksum bugs show up in tests.
    const id15 = `${prefix}${this.pod}0${encodeBase62(this.counter + 62 ** 5 * 17, 9)}`;
    return to18(id15);
  }
}
