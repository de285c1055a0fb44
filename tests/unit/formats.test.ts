import { describe, expect, test } from 'bun:test';
import { FormatRegistry } from '@sinclair/typebox';
import { installFastFormats, isCalendarDate } from '../../src/lib/formats';

describe('string formats used by the API schemas', () => {
  installFastFormats();
  const check = (format: string, value: string) => FormatRegistry.Get(format)!(value);

  test('uuid accepts ids the database issues and refuses anything else', () => {
    expect(check('uuid', '6a6b60d2-e902-4dd9-8bb1-dc11a3093b0e')).toBe(true);
    expect(check('uuid', '6A6B60D2-E902-4DD9-8BB1-DC11A3093B0E')).toBe(true);
    expect(check('uuid', '6a6b60d2e9024dd98bb1dc11a3093b0e')).toBe(false);
    expect(check('uuid', 'nope')).toBe(false);
  });

  test('email accepts ordinary addresses and refuses malformed or oversized ones', () => {
    expect(check('email', 'ada.admin+hive@example.co.uk')).toBe(true);
    expect(check('email', 'no-at-sign')).toBe(false);
    expect(check('email', 'two@@example.com')).toBe(false);
    expect(check('email', `${'a'.repeat(250)}@example.com`)).toBe(false);
  });

  test('date is a real calendar day', () => {
    expect(isCalendarDate('2028-02-29')).toBe(true);
    expect(isCalendarDate('2027-02-29')).toBe(false);
    expect(isCalendarDate('2030-02-31')).toBe(false);
    expect(isCalendarDate('2030-13-01')).toBe(false);
    expect(isCalendarDate('2030-1-01')).toBe(false);
  });
});
