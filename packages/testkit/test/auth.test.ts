import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD_ROLE, startTopology, type Topology } from '../src/index.js';
import { viaProxy } from './helpers.js';

describe('password authentication', () => {
  let topo: Topology;
  beforeAll(async () => {
    topo = await startTopology({ clusters: { a: { replicas: 1 } }, auth: 'password', password: "s3cret'x" });
  });
  afterAll(() => topo?.stop());

  it('config carries role pgm and its password; it works on primary and replica', async () => {
    const { primary, replicas } = topo.config.a!;
    expect(primary.user).toBe(PASSWORD_ROLE);
    expect(primary.password).toBe("s3cret'x");
    expect(topo.passwordRole).toEqual({ user: 'pgm', password: "s3cret'x" });
    expect(await viaProxy(primary, 'SELECT current_user AS u')).toEqual([{ u: 'pgm' }]);
    expect(await viaProxy(replicas[0]!, 'SELECT current_user AS u')).toEqual([{ u: 'pgm' }]);
  });

  it('a wrong password is a real authentication failure (28P01)', async () => {
    const c = new pg.Client({ ...topo.config.a!.primary, password: 'wrong' });
    c.on('error', () => {});
    await expect(c.connect()).rejects.toMatchObject({ code: '28P01' });
  });

  it('the superuser stays trusted for admin queries', async () => {
    const r = await topo.cluster('a').primary.query<{ u: string }>('SELECT current_user AS u');
    expect(r.rows).toEqual([{ u: 'postgres' }]);
  });
});
