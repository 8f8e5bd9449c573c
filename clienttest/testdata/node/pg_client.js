// node-postgres (pg) against Sluice: usage node pg_client.js HOST PORT.
//
// pg sends every parameter as text and reads text results: its binary
// result mode reads each value as a UTF-8 string first (pg-protocol's parser
// has no binary mode), so it is not tested. Each check prints "ok NAME" or
// "FAIL NAME: reason" (read by the Go test clienttest).
'use strict'

const assert = require('assert')
const pg = require('pg')

const [host, port] = process.argv.slice(2)
const config = { host, port: Number(port), user: 'sluice', database: 'sluice', application_name: 'node-pg-test' }
let failures = 0

async function check(name, fn) {
  const start = Date.now()
  try {
    await fn()
    console.log(`ok ${name} (${Date.now() - start} ms)`)
  } catch (e) {
    failures++
    console.log(`FAIL ${name}: ${String(e && e.stack ? e.message : e).replace(/\n/g, ' | ')}`)
  }
}

async function client(extra) {
  const c = new pg.Client({ ...config, ...extra })
  await c.connect()
  return c
}

const tstz = new Date(Date.UTC(2024, 0, 2, 3, 4, 5))

// [SQL type, parameter, value pg returns, text form]
const TYPES = [
  ['bool', true, true, 'true'],
  ['int2', -7, -7, '-7'],
  ['int4', 123456, 123456, '123456'],
  ['int8', '1099511627776', '1099511627776', '1099511627776'],
  ['float4', 1.5, 1.5, '1.5'],
  ['float8', 2.25, 2.25, '2.25'],
  ['numeric', '12345.678', '12345.678', '12345.678'],
  ['text', 'héllo', 'héllo', 'héllo'],
  ['varchar(10)', 'abc', 'abc', 'abc'],
  ['bytea', Buffer.from([0xde, 0xad, 0xbe, 0xef]), Buffer.from([0xde, 0xad, 0xbe, 0xef]), '\\xdeadbeef'],
  ['date', '2024-02-29', new Date(2024, 1, 29), '2024-02-29'],
  ['time', '13:14:15.5', '13:14:15.5', '13:14:15.5'],
  ['timestamp', '2024-01-02 03:04:05.6', new Date(2024, 0, 2, 3, 4, 5, 600), '2024-01-02 03:04:05.6'],
  ['timestamptz', tstz, tstz, '2024-01-02 03:04:05+00'],
  ['interval', '1 day 02:03:04', { days: 1, hours: 2, minutes: 3, seconds: 4 }, '1 day 02:03:04'],
  ['uuid', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'],
  ['json', '{"a": [1, 2]}', { a: [1, 2] }, '{"a": [1, 2]}'],
  ['jsonb', JSON.stringify({ b: 1, a: [1, 2] }), { a: [1, 2], b: 1 }, '{"a": [1, 2], "b": 1}'],
  ['int4[]', [1, 2, 3], [1, 2, 3], '{1,2,3}'],
  ['text[]', ['a', 'b c'], ['a', 'b c'], '{a,"b c"}'],
]

// plain turns pg's values (Date, interval objects) into comparable ones.
function plain(v) {
  if (v instanceof Date) return v.getTime()
  if (v && typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v)) return JSON.parse(JSON.stringify(v))
  return v
}

function types(c, prefix) {
  return async () => {
    for (const [i, [typ, param, value, text]] of TYPES.entries()) {
      const tbl = `${prefix}_types_${i}`
      await c.query(`CREATE TABLE ${tbl} (id int PRIMARY KEY, v ${typ})`)
      await c.query(`INSERT INTO ${tbl} VALUES ($1, $2)`, [1, param])
      const r = await c.query(`SELECT v, v::text AS t FROM ${tbl} WHERE id = $1`, [1])
      assert.deepStrictEqual(plain(r.rows[0].v), plain(value), typ)
      assert.strictEqual(r.rows[0].t, text, `${typ}::text`)
      const p = await c.query(`SELECT $1::${typ} AS v`, [param])
      assert.deepStrictEqual(plain(p.rows[0].v), plain(value), `${typ} parameter`)
      const n = await c.query(`SELECT NULL::${typ} AS v`)
      assert.strictEqual(n.rows[0].v, null, `${typ} NULL`)
    }
  }
}

async function main() {
  let c
  await check('connect', async () => {
    c = await client()
    const r = await c.query('SELECT 1 AS one, current_setting($1) AS v', ['server_version_num'])
    assert.deepStrictEqual(r.rows, [{ one: 1, v: '160004' }])
  })
  if (!c) process.exit(1)
  await check('types_text', types(c, 'js'))
  await check('prepared', async () => {
    await c.query('CREATE TABLE js_prep (id int PRIMARY KEY, name text)')
    for (let i = 0; i < 3; i++) {
      await c.query({ name: 'ins', text: 'INSERT INTO js_prep VALUES ($1, $2)', values: [i, `n${i}`] })
    }
    for (let i = 0; i < 3; i++) {
      const r = await c.query({ name: 'sel', text: 'SELECT name FROM js_prep WHERE id = $1', values: [i] })
      assert.deepStrictEqual(r.rows, [{ name: `n${i}` }])
    }
    const r = await c.query({ text: 'SELECT id, name FROM js_prep ORDER BY id', rowMode: 'array' })
    assert.deepStrictEqual(r.rows, [[0, 'n0'], [1, 'n1'], [2, 'n2']])
  })
  await check('transactions', async () => {
    await c.query('CREATE TABLE js_txn (id int PRIMARY KEY)')
    const tx = await client()
    await tx.query('BEGIN')
    await tx.query('INSERT INTO js_txn VALUES ($1)', [1])
    await tx.query('COMMIT')
    await tx.query('BEGIN')
    await tx.query('INSERT INTO js_txn VALUES ($1)', [2])
    await tx.query('ROLLBACK')
    await tx.end()
    const r = await c.query('SELECT id FROM js_txn ORDER BY id')
    assert.deepStrictEqual(r.rows, [{ id: 1 }])
  })
  await check('errors', async () => {
    await assert.rejects(c.query('SELECT * FROM js_nope'), (e) => e.code === '42P01' && e.message === 'relation "js_nope" does not exist')
    await assert.rejects(c.query('SELECT 1 / $1::int4', [0]), (e) => e.code === '22012')
    const tx = await client()
    await tx.query('BEGIN')
    await assert.rejects(tx.query('SELECT 1 / 0'), (e) => e.code === '22012')
    await assert.rejects(tx.query('SELECT 1'), (e) => e.code === '25P02')
    await tx.query('ROLLBACK')
    await tx.end()
    const r = await c.query('SELECT 2 AS n')
    assert.deepStrictEqual(r.rows, [{ n: 2 }])
  })
  await check('cancel', async () => {
    // pg has no cancel API of its own: statement_timeout is the server's.
    const tc = await client({ statement_timeout: 300 })
    const start = Date.now()
    await assert.rejects(tc.query('SELECT pg_sleep(10)'), (e) => e.code === '57014')
    assert.ok(Date.now() - start < 5000, 'timeout took under 5s')
    await tc.end()
  })
  await check('subscribe_cursor', async () => {
    await c.query('CREATE STREAM js_events (k text, v int8)')
    await c.query('CREATE MATERIALIZED VIEW js_totals AS SELECT k, sum(v) AS total FROM js_events GROUP BY k')
    await c.query('INSERT INTO js_events VALUES ($1, $2), ($3, $4)', ['a', 1, 'b', 2])
    const sub = await client()
    await sub.query('BEGIN')
    await sub.query('DECLARE c CURSOR FOR SUBSCRIBE js_totals')
    const state = {}
    let retractions = 0
    const fetch = async () => {
      const r = await sub.query("FETCH 10 c WITH (timeout = '1s')")
      assert.deepStrictEqual(r.fields.slice(0, 2).map((f) => f.name), ['sluice_epoch', 'sluice_diff'])
      for (const row of r.rows) {
        const diff = Number(row.sluice_diff)
        if (diff < 0) {
          retractions++
          if (state[row.k] === row.total) delete state[row.k]
        } else {
          state[row.k] = row.total
        }
      }
    }
    const deadline = Date.now() + 10000
    const until = async (want) => {
      const same = () => Object.keys(want).length === Object.keys(state).length && Object.keys(want).every((k) => state[k] === want[k])
      while (!same() && Date.now() < deadline) await fetch()
      assert.deepStrictEqual(state, want)
    }
    await until({ a: '1', b: '2' })
    retractions = 0
    await c.query('INSERT INTO js_events VALUES ($1, $2)', ['a', 3])
    await until({ a: '4', b: '2' })
    assert.strictEqual(retractions, 1, 'retractions')
    await sub.query('COMMIT')
    await sub.end()
  })
  await check('listen_notify', async () => {
    // pg reads its socket all the time: a notification to an idle client
    // arrives as a 'notification' event.
    const l = await client()
    await l.query('LISTEN js_chan')
    const got = new Promise((resolve, reject) => {
      l.on('notification', resolve)
      setTimeout(() => reject(new Error('no notification within 5s')), 5000)
    })
    await c.query("SELECT pg_notify('js_chan', $1)", ['from node'])
    const n = await got
    assert.strictEqual(n.channel, 'js_chan')
    assert.strictEqual(n.payload, 'from node')
    const pid = (await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid
    assert.strictEqual(n.processId, pid)
    await l.end()
  })
  await c.end()
  process.exit(failures ? 1 : 0)
}

main().catch((e) => {
  console.log(`FAIL main: ${e.message}`)
  process.exit(1)
})
