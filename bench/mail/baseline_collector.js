#!/usr/bin/env node
// Baseline: the mail collector a site integrator writes by hand in Node.js.
//
// imapflow + mailparser + better-sqlite3: log in, select the folder, `UID SEARCH SUBJECT ORDER`,
// fetch the full source (`source: true`, which imapflow sends as BODY.PEEK[]) over UID ranges of 500,
// parse each message with simpleParser, take the first attachment whose text is a JSON object (decoded
// from its declared charset, else Windows-1251), and insert a lead row plus its line rows into SQLite
// (WAL), one transaction per batch of 500. Written the straightforward way on purpose, not tuned.
//
// Usage: node baseline_collector.js --port N --db FILE [--host H] [--user U] [--password P]
//        [--folder F] [--keyword K] [--batch 500]
// Prints one line: messages=<n> seconds=<s> rate=<n/s> leads=<n> skipped=<n>
'use strict';

const { ImapFlow } = require('imapflow');
const { simpleParser } = require('mailparser');
const Database = require('better-sqlite3');

function parseArgs(argv) {
  const opts = {
    host: '127.0.0.1',
    port: 0,
    user: 'bench',
    password: process.env.BENCH_MAIL_PASSWORD || 'secret',
    folder: 'INBOX',
    keyword: 'ORDER',
    db: '',
    batch: 500,
  };
  for (let i = 2; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    if (!(key in opts) || argv[i + 1] === undefined) {
      console.error(`unknown or incomplete option ${argv[i]}`);
      process.exit(2);
    }
    opts[key] = typeof opts[key] === 'number' ? Number(argv[i + 1]) : argv[i + 1];
  }
  if (!opts.port || !opts.db) {
    console.error('usage: baseline_collector.js --port N --db FILE [--host H] [--user U] [--password P]');
    process.exit(2);
  }
  return opts;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS leads (
    id INTEGER PRIMARY KEY,
    message_id TEXT UNIQUE,
    external_number TEXT,
    subject TEXT,
    occurred_at TEXT,
    inn TEXT,
    phone TEXT,
    email TEXT,
    contact_person TEXT,
    description TEXT,
    payload TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS lead_lines (
    lead_id INTEGER NOT NULL REFERENCES leads(id),
    position INTEGER NOT NULL,
    nomenclature TEXT,
    material TEXT,
    width TEXT,
    height TEXT,
    quantity TEXT,
    price TEXT,
    amount TEXT,
    is_service INTEGER
);`;

// UIDs (sorted) to an IMAP sequence set with ranges: 1:5,7,9:12
function sequenceSet(uids) {
  const out = [];
  for (let i = 0; i < uids.length; i++) {
    const start = uids[i];
    while (i + 1 < uids.length && uids[i + 1] === uids[i] + 1) i++;
    out.push(start === uids[i] ? `${start}` : `${start}:${uids[i]}`);
  }
  return out.join(',');
}

function findPayload(parsed) {
  for (const att of parsed.attachments) {
    const ct = att.headers.get('content-type');
    const charset = (ct && ct.params && ct.params.charset) || 'windows-1251';
    let text;
    try {
      text = new TextDecoder(charset).decode(att.content);
    } catch (e) {
      continue;
    }
    try {
      const obj = JSON.parse(text);
      if (obj && typeof obj === 'object' && !Array.isArray(obj)) return obj;
    } catch (e) {
      // not JSON: try the next attachment
    }
  }
  return null;
}

const str = (v) => (v === undefined || v === null ? null : String(v));

async function main() {
  const opts = parseArgs(process.argv);
  const db = new Database(opts.db);
  db.pragma('journal_mode = WAL');
  db.exec(SCHEMA);
  const insertLead = db.prepare(
    `INSERT OR IGNORE INTO leads (message_id, external_number, subject, occurred_at, inn, phone, email,
       contact_person, description, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const insertLine = db.prepare(
    `INSERT INTO lead_lines (lead_id, position, nomenclature, material, width, height, quantity, price,
       amount, is_service) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  let leads = 0;
  const store = db.transaction((rows) => {
    for (const { messageId, number, p } of rows) {
      const info = insertLead.run(messageId, number, str(p['Тема']), str(p['Дата']), str(p['ИНН']),
        str(p['Телефон']), str(p['АдресЭлектроннойПочты']), str(p['КонтактноеЛицо']),
        str(p['Описание']), JSON.stringify(p));
      if (info.changes === 0) continue; // already imported
      leads++;
      (Array.isArray(p['Товары']) ? p['Товары'] : []).forEach((line, i) => {
        insertLine.run(info.lastInsertRowid, i + 1, str(line['Номенклатура']), str(line['Материал']),
          str(line['Ширина']), str(line['Высота']), str(line['Количество']), str(line['Цена']),
          str(line['Сумма']), line['Услуга'] ? 1 : 0);
      });
    }
  });
  const numberRe = new RegExp(`${opts.keyword}\\s*[:№#]*\\s*(\\S+)`, 'i');

  const started = process.hrtime.bigint();
  const client = new ImapFlow({
    host: opts.host,
    port: opts.port,
    secure: false,
    doSTARTTLS: false,
    auth: { user: opts.user, pass: opts.password },
    logger: false,
  });
  await client.connect();
  const lock = await client.getMailboxLock(opts.folder);
  let messages = 0;
  let skipped = 0;
  try {
    const uids = (await client.search({ subject: opts.keyword }, { uid: true })) || [];
    uids.sort((a, b) => a - b);
    for (let i = 0; i < uids.length; i += opts.batch) {
      const range = sequenceSet(uids.slice(i, i + opts.batch));
      const rows = [];
      for await (const msg of client.fetch(range, { uid: true, source: true }, { uid: true })) {
        messages++;
        const parsed = await simpleParser(msg.source);
        const p = findPayload(parsed);
        if (!p) {
          skipped++;
          continue;
        }
        const m = numberRe.exec(parsed.subject || '');
        rows.push({ messageId: parsed.messageId || null, number: m ? m[1] : null, p });
      }
      store(rows);
    }
  } finally {
    lock.release();
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await client.logout();
  db.close();
  console.log(`messages=${messages} seconds=${seconds.toFixed(3)} rate=${Math.round(messages / seconds)} ` +
    `leads=${leads} skipped=${skipped}`);
}

main().catch((e) => {
  console.error(`baseline_collector.js: ${e && e.stack ? e.stack : e}`);
  process.exit(1);
});
