// A table as CSV a spreadsheet opens safely: every cell quoted where RFC
// 4180 says (a quote, comma, CR or LF in it), and a text cell a spreadsheet
// would run as a formula (starting with =, +, -, @, a tab or CR) shown as
// text with a leading apostrophe, as OWASP's CSV-injection advice says. A
// model's answer is text a document can steer, so no cell is trusted.
// Numbers we computed are written as they are.
function csvCell(value) {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  let text = String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function csvTable(rows) {
  return rows.map((row) => row.map(csvCell).join(',')).join('\r\n');
}
