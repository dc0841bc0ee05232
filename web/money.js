// Dollar amounts as the report writes them: from $1 with cents ($2.15),
// below it three significant digits with trailing zeros dropped ($0.000418,
// $0.1); halves round away from zero. Amounts arrive as exact decimal
// strings ("0.000418") and are formatted without floating point, by the
// same rule as the report's figures (Rust `money::dollars`; a test holds
// the two together).
function money(value) {
  let text = String(value ?? 0).trim();
  let sign = '';
  if (text.startsWith('-')) { sign = '-'; text = text.slice(1); }
  if (/e/i.test(text)) text = Number(text).toFixed(20);
  const [whole = '0', fraction = ''] = text.split('.');
  if (!/^\d+$/.test(whole) || !/^\d*$/.test(fraction) || /^0*$/.test(whole + fraction)) return '$0';
  const integer = whole.replace(/^0+(?=\d)/, '');
  const places = integer !== '0' ? 2 : Math.max(3, fraction.search(/[1-9]/) + 3);
  let digits = BigInt(integer + fraction.padEnd(places, '0').slice(0, places));
  if ((fraction[places] || '0') >= '5') digits += 1n;
  const all = digits.toString().padStart(places + 1, '0');
  const [int, dec] = [all.slice(0, -places), all.slice(-places)];
  if (integer !== '0') return `${sign}$${int}.${dec}`;
  const kept = dec.replace(/0+$/, '');
  return `${sign}$${int}${kept ? '.' + kept : ''}`;
}

// A model's price per million tokens, one way everywhere: dollars with
// cents, and more digits only when the price has them ($0.50, $3.00,
// $0.075, $0.0375). Exact: prices arrive as decimal strings or numbers.
function rate(value) {
  let text = String(value ?? 0).trim();
  if (/e/i.test(text)) text = Number(text).toFixed(12);
  const [whole = '0', fraction = ''] = text.split('.');
  if (!/^\d+$/.test(whole) || !/^\d*$/.test(fraction)) return '$0.00';
  return `$${whole.replace(/^0+(?=\d)/, '')}.${fraction.replace(/0+$/, '').padEnd(2, '0')}`;
}

// Input and output prices per million tokens: "$0.50 / $3.00".
function rates(prompt, completion) {
  return `${rate(prompt)} / ${rate(completion)}`;
}
