// Test-only: parse NACHA ACH files with @midlandsbank/node-nacha (an independent parser from
// the npm registry) and check what it parsed. Prints one JSON line per file:
// {file, errors, batches, entryAndAddendaCount, totalCredit, totalDebit, entries: [...]}.
// node-nacha has no validator of its own, so the checks are made here on its parsed fields:
// 94-character records, blocking factor 10, batch and file counts, entry hashes, totals,
// CCD entries each with one 05 addenda, and that formatting the parse gives the same records.
'use strict';
const fs = require('fs');
const nacha = require('@midlandsbank/node-nacha');

function check(path) {
  const text = fs.readFileSync(path, 'ascii');
  const errors = [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  lines.forEach((line, i) => {
    if (line.length !== 94) errors.push(`record ${i + 1} is ${line.length} characters`);
  });
  if (lines.length % 10 !== 0) errors.push(`${lines.length} records, not a multiple of 10`);
  const parsed = nacha.from(text).data;
  const file = parsed.file || {};
  const footer = file.footer || {};
  if (file.recordSize !== '094' || file.blockingFactor !== '10') errors.push('bad file header');
  const entries = [];
  let fileHash = 0, fileCredit = 0, fileDebit = 0, fileCount = 0;
  (parsed.batches || []).forEach((batch, b) => {
    let hash = 0, credit = 0, debit = 0, count = 0;
    if (batch.entryClassCode !== 'CCD') errors.push(`batch ${b + 1} is ${batch.entryClassCode}`);
    batch.entries.forEach((entry) => {
      count += 1 + (entry.addenda ? 1 : 0);
      hash += Number(entry.receivingDFIIdentification);
      const code = String(entry.transactionCode);
      if (code[1] === '2' || code[1] === '3') credit += entry.amount;
      else debit += entry.amount;
      if (!entry.addenda || entry.addenda.type !== '05') errors.push(`entry ${entry.traceNumber} has no 05 addenda`);
      entries.push({
        transactionCode: code,
        routing: String(entry.receivingDFIIdentification).padStart(8, '0') + String(entry.checkDigit),
        amount: entry.amount,
        name: entry.receivingCompanyName,
        trace: String(entry.traceNumber).padStart(15, '0'),
        addenda: entry.addenda ? entry.addenda.info : null,
      });
    });
    const f = batch.footer || {};
    if (f.entryAndAddendaCount !== count) errors.push(`batch ${b + 1} count ${f.entryAndAddendaCount} != ${count}`);
    if (f.entryHash !== hash % 1e10) errors.push(`batch ${b + 1} hash ${f.entryHash} != ${hash % 1e10}`);
    if (f.totalCredit !== credit) errors.push(`batch ${b + 1} credit ${f.totalCredit} != ${credit}`);
    if (f.totalDebit !== debit) errors.push(`batch ${b + 1} debit ${f.totalDebit} != ${debit}`);
    fileHash += hash; fileCredit += credit; fileDebit += debit; fileCount += count;
  });
  const batches = (parsed.batches || []).length;
  if (footer.batchCount !== batches) errors.push(`file batch count ${footer.batchCount} != ${batches}`);
  if (footer.blockCount !== lines.length / 10) errors.push(`block count ${footer.blockCount}`);
  if (footer.entryAndAddendaCount !== fileCount) errors.push(`file count ${footer.entryAndAddendaCount} != ${fileCount}`);
  if (footer.entryHash !== fileHash % 1e10) errors.push(`file hash ${footer.entryHash} != ${fileHash % 1e10}`);
  if (footer.totalCredit !== fileCredit) errors.push(`file credit ${footer.totalCredit} != ${fileCredit}`);
  if (footer.totalDebit !== fileDebit) errors.push(`file debit ${footer.totalDebit} != ${fileDebit}`);
  const records = lines.filter((line) => !/^9{94}$/.test(line));
  const formatted = nacha.from(parsed).to('ach').split('\n').filter((line) => !/^9{94}$/.test(line));
  if (formatted.join('\n') !== records.join('\n')) errors.push('formatting the parse does not give the same records');
  return {file: path, errors, batches, entryAndAddendaCount: footer.entryAndAddendaCount,
          totalCredit: footer.totalCredit, totalDebit: footer.totalDebit, entries};
}

for (const path of process.argv.slice(2)) {
  let result;
  try {
    result = check(path);
  } catch (error) {
    result = {file: path, errors: [`parser failed: ${error.message}`]};
  }
  process.stdout.write(JSON.stringify(result) + '\n');
}
