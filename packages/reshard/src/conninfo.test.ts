import { describe, expect, it } from 'vitest';
import { subscriptionConninfo } from './conninfo.js';

describe('subscriptionConninfo', () => {
  it('quotes every value for libpq, fields overriding the connection string', async () => {
    const s = await subscriptionConninfo({
      connectionString: 'postgres://app:url%20pw@db1:5433/shop?sslmode=verify-full',
      host: 'db2',
      password: () => "it's \\ secret",
    });
    expect(s).toBe(
      "host='db2' port='5433' dbname='shop' user='app' password='it\\'s \\\\ secret' sslmode='verify-full' application_name='pg-multiverse-reshard'",
    );
  });
  it('asks for TLS when the node has ssl and no sslmode', async () => {
    expect(await subscriptionConninfo({ host: 'h', port: 1, ssl: true })).toMatch(/sslmode='require'/);
  });
});
