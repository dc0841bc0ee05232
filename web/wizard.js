// The "new benchmark" wizard: one draft, saved as the user goes. The rules
// (JSON errors with line and column, the database's limits, schema
// inference, the default prompt) are plain functions, tested under Node in
// tests/js/wizard.test.mjs; the page part wires them to supabase-js.
const DraftRules = (() => {
  const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/webp', 'image/gif'];
  const DATE = /^\d{4}-\d{2}-\d{2}$/;

  const mib = (bytes) => (bytes / 1048576).toFixed(bytes % 1048576 ? 1 : 0) + ' MiB';
  const kb = (bytes) => Math.round(bytes / 1024) + ' KB';

  // A PDF is read in the browser (its pages become images); this bounds
  // only what the browser is asked to hold.
  const MAX_PDF_BYTES = 100 * 1048576;
  const isPdf = (file) => file.type === 'application/pdf' || (!file.type && /\.pdf$/i.test(file.name));

  // Why a file cannot be added (`count` documents already there), or null.
  function refuseFile(file, count, limits) {
    if (isPdf(file)) {
      if (file.size > MAX_PDF_BYTES) return `${file.name}: ${mib(file.size)} is larger than the ${mib(MAX_PDF_BYTES)} a PDF may be.`;
    } else if (!IMAGE_TYPES.includes(file.type)) {
      return `${file.name}: not a document we can read (a PDF, or a PNG, JPEG, WebP or GIF image).`;
    } else if (file.size > limits.max_image_bytes) return `${file.name}: ${mib(file.size)} is larger than the ${mib(limits.max_image_bytes)} limit.`;
    if (file.size === 0) return `${file.name}: the file is empty.`;
    if (count >= limits.max_images) return `${file.name}: a benchmark holds at most ${limits.max_images} images.`;
    return null;
  }

  // The line and column (from 1) of offset `at` in `text`.
  function lineAndColumn(text, at) {
    const before = text.slice(0, at).split('\n');
    return { line: before.length, column: before[before.length - 1].length + 1 };
  }

  // Where JSON text first goes wrong and why, in words. jsonc-parser
  // (web/vendor/jsonc-parser.js, from npm) finds the first error and its
  // place; the sentence says what to do about it. The database stays the
  // authority: this only answers while the user types.
  const JSON_OPTIONS = { disallowComments: true, allowTrailingComma: false };
  const VALUE = 'expected a value (text in double quotes, a number, true, false, null, { or [)';
  function syntaxError(text) {
    const open = [];
    let first = null;
    JsoncParser.visit(text, {
      onObjectBegin: () => { if (!first) open.push('}'); },
      onArrayBegin: () => { if (!first) open.push(']'); },
      onObjectEnd: () => { if (!first) open.pop(); },
      onArrayEnd: () => { if (!first) open.pop(); },
      onError: (code, offset, length) => { first ||= { code, offset, length, closer: open[open.length - 1] }; },
    }, JSON_OPTIONS);
    if (!first) return { at: 0, reason: 'not valid JSON' };
    const { code, offset, length, closer } = first;
    const here = text[offset];
    const before = text.slice(0, offset).trimEnd().slice(-1);
    // Inside a token (a string or a number): the character at fault.
    const inToken = (bad) => { const i = Array.prototype.findIndex.call(text.slice(offset, offset + length), bad); return i < 0 ? offset : offset + i; };
    switch (code) {
      case 1: // an invalid symbol
        if (closer === undefined && text.slice(0, offset).trim()) return { at: offset, reason: 'extra text after the JSON' };
        if (closer === '}' && (before === '{' || before === ',')) return { at: offset, reason: 'expected a key in double quotes' };
        return { at: offset, reason: here === "'" ? 'use double quotes, not single quotes' : VALUE };
      case 3: // a key expected
        return { at: offset, reason: here === '}' ? 'remove the comma before }' : 'expected a key in double quotes' };
      case 4: // a value expected
        if (here === undefined) return { at: offset, reason: 'the JSON ends too early' };
        if (before === ',' && (here === ']' || here === '}')) return { at: offset, reason: `remove the comma before ${here}` };
        return { at: offset, reason: VALUE };
      case 5: return { at: offset, reason: 'expected : after the key' };
      case 6: case 7: case 8: { // a comma or a closing bracket expected
        const close = code === 7 ? '}' : code === 8 ? ']' : closer;
        return { at: offset, reason: here === undefined ? `the JSON ends before its ${close}` : `expected , or ${close} here` };
      }
      case 9: return { at: offset, reason: 'extra text after the JSON' };
      case 10: case 11: return { at: offset, reason: 'JSON has no comments' };
      case 12: { // a string not closed
        const end = offset + length;
        return /[\r\n]/.test(text[end] || '')
          ? { at: end, reason: 'text in double quotes cannot span lines' }
          : { at: end, reason: 'this text is never closed with "' };
      }
      case 14: return { at: inToken((c) => c === '\\'), reason: 'a \\u needs four hexadecimal digits' };
      case 15: return { at: inToken((c) => c === '\\'), reason: 'this \\ starts no escape JSON knows (\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u)' };
      case 16: return { at: inToken((c) => c < ' '), reason: 'text in double quotes cannot hold a tab or another control character; write \\t' };
      default: return { at: offset, reason: 'this number is not written the way JSON writes numbers' };
    }
  }

  // What the database measures (private.json_shape): how deep containers
  // nest (a scalar is 0, {"a": 1} is 1), the longest list, the fields
  // (scalars and empty containers).
  function shape(value) {
    if (value === null || typeof value !== 'object') return { depth: 0, longest: 0, fields: 1 };
    const children = Array.isArray(value) ? value : Object.values(value);
    if (!children.length) return { depth: 0, longest: 0, fields: 1 };
    const inner = children.map(shape);
    return {
      depth: 1 + Math.max(...inner.map((s) => s.depth)),
      longest: Math.max(Array.isArray(value) ? value.length : 0, ...inner.map((s) => s.longest)),
      fields: inner.reduce((sum, s) => sum + s.fields, 0),
    };
  }

  // The value as Postgres writes jsonb (", " and ": "), for its size.
  function jsonbText(value) {
    if (Array.isArray(value)) return '[' + value.map(jsonbText).join(', ') + ']';
    if (value !== null && typeof value === 'object') return '{' + Object.entries(value).map(([k, v]) => JSON.stringify(k) + ': ' + jsonbText(v)).join(', ') + '}';
    return JSON.stringify(value);
  }

  // Sizes as the database words them (private.human_bytes).
  function humanBytes(bytes) {
    if (bytes < 1024) return `${bytes} bytes`;
    return bytes < 1048576 ? `${(bytes / 1024).toFixed(1)} KB` : `${(bytes / 1048576).toFixed(1)} MB`;
  }

  // The expected JSON typed for one image (`what` names it as the database
  // does: "expected JSON of image 2 (receipt.png)"): { value, fields } or
  // { error }, with the database's own sentence for a limit.
  function readExpected(text, limits, what = 'expected JSON') {
    if (!text.trim()) return { error: 'Write the JSON this document should give.' };
    let value;
    try {
      value = JSON.parse(text);
    } catch {
      const { at, reason } = syntaxError(text);
      const where = lineAndColumn(text, at);
      return { error: `Line ${where.line}, column ${where.column}: ${reason}.` };
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return { error: 'The expected JSON must be one object: { … }.' };
    const bytes = new TextEncoder().encode(jsonbText(value)).length;
    const s = shape(value);
    if (bytes > limits.max_expected_bytes) return { error: `The ${what} is ${humanBytes(bytes)}; the limit is ${humanBytes(limits.max_expected_bytes)}.` };
    if (s.depth > limits.max_depth) return { error: `The ${what} nests more than ${limits.max_depth} levels deep; the limit is ${limits.max_depth}.` };
    if (s.longest > limits.max_array_items) return { error: `A list in the ${what} has ${s.longest} items; the limit is ${limits.max_array_items}.` };
    if (s.fields > limits.max_fields) return { error: `The ${what} has ${s.fields} fields; the limit is ${limits.max_fields.toLocaleString('en-US')}.` };
    return { value, fields: s.fields };
  }

  // The same structure with every value emptied ("" for text, null else).
  function emptied(value) {
    if (Array.isArray(value)) return value.length ? [emptied(value[0])] : [];
    if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, emptied(v)]));
    return typeof value === 'string' ? '' : null;
  }

  // A JSON Schema every one of `values` satisfies.
  function infer(values) {
    const present = values.filter((v) => v !== undefined);
    const nonNull = present.filter((v) => v !== null);
    const nullable = nonNull.length < present.length;
    let schema;
    if (nonNull.length && nonNull.every((v) => typeof v === 'object' && !Array.isArray(v))) {
      const keys = [...new Set(nonNull.flatMap(Object.keys))];
      schema = {
        type: 'object',
        properties: Object.fromEntries(keys.map((k) => [k, infer(nonNull.map((v) => v[k]))])),
        required: keys.filter((k) => nonNull.every((v) => k in v)),
      };
    } else if (nonNull.length && nonNull.every(Array.isArray)) {
      schema = { type: 'array', items: infer(nonNull.flat()) };
    } else if (nonNull.length && nonNull.every((v) => typeof v === 'number')) {
      schema = { type: nonNull.every(Number.isInteger) ? 'integer' : 'number' };
    } else if (nonNull.length && nonNull.every((v) => typeof v === 'boolean')) {
      schema = { type: 'boolean' };
    } else if (nonNull.length && nonNull.every((v) => typeof v === 'string')) {
      schema = nonNull.every((v) => DATE.test(v)) ? { type: 'string', format: 'date' } : { type: 'string' };
    } else {
      schema = {};
    }
    if (nullable && schema.type) schema.type = [schema.type, 'null'];
    return schema;
  }

  const typeOf = (schema) => [].concat(schema.type || []).find((t) => t !== 'null') || 'any';

  // The schema's fields, depth first: { path, schema, parent, key }.
  function fields(schema, path = '', parent = null, key = null, out = []) {
    if (path) out.push({ path, schema, parent, key });
    if (typeOf(schema) === 'object') {
      for (const [k, child] of Object.entries(schema.properties || {})) fields(child, path ? `${path}.${k}` : k, schema, k, out);
    } else if (typeOf(schema) === 'array' && schema.items) {
      fields(schema.items, `${path}[]`, schema, null, out);
    }
    return out;
  }

  function describe(schema) {
    const type = typeOf(schema);
    if (type === 'object') return `an object with ${Object.entries(schema.properties || {}).map(([k, s]) => `${k} (${describe(s)})`).join(', ')}`;
    if (type === 'array') return `a list${schema['x-ordered'] ? ', in the order shown' : ''} of ${schema.items ? describe(schema.items) : 'values'}`;
    if (schema.format === 'date') return 'a date, YYYY-MM-DD';
    return { string: 'text exactly as printed', number: 'a number', integer: 'a whole number', boolean: 'true or false' }[type] || 'a value';
  }

  function defaultPrompt(schema) {
    const top = Object.entries(schema.properties || {}).map(([k, s]) => `- ${k}: ${describe(s)}`).join('\n');
    return 'Read this document and answer with one JSON object and nothing else.\n'
      + (top ? `Give these fields:\n${top}\n` : '')
      + 'Write amounts as numbers without currency signs. Use null for a field the document does not show.';
  }

  return { IMAGE_TYPES, isPdf, refuseFile, readExpected, syntaxError, shape, humanBytes, jsonbText, emptied, infer, fields, typeOf, defaultPrompt, mib, kb, lineAndColumn };
})();


const Wizard = (() => {
  const R = DraftRules;
  const BUCKET = 'benchmark-images';
  let supabase, userId, limits, catalog = [], draftId, draft, price = '';
  let images = [];            // documents: { path, name, width, height, pages?, expected?, expectedText, fields, url, pageUrls }
  let userSchema = null, inferredSchema = {}, prompt = '', promptEdited = false;
  let selected = [], estimate = null, saving = Promise.resolve(), saveTimer;

  const $ = (s) => document.querySelector(s);
  const status = (message, isError) => { $('#save-status').textContent = message; $('#save-status').className = isError ? 'error' : 'muted'; };
  const schema = () => userSchema || inferredSchema;

  // The draft's id, creating the draft on the first change (once, however
  // many uploads ask at the same moment).
  let creating = null;
  function ensureDraft() {
    if (draftId) return Promise.resolve(draftId);
    creating ||= (async () => {
      const { data, error } = await supabase.from('benchmark_drafts')
        .insert({ config_data: { name: $('#name').value.trim() } }).select('id').single();
      if (error) { creating = null; throw new Error(error.message); }
      draftId = data.id;
      history.replaceState(null, '', `/benchmark/new?draft=${draftId}`);
      return draftId;
    })();
    return creating;
  }

  function content() {
    return {
      config_data: { ...(draft?.config_data || {}), name: $('#name').value.trim(), zero_retention: $('#zero-retention').checked,
        repeats: Number($('#repeats').value) },
      upload_data: { images: images.map(({ path, name, width, height, pages, expected, expectedText }) =>
        ({ path, name, width, height, ...(pages ? { pages } : {}), ...(expected ? { expected } : { expected_text: expectedText || '' }) })) },
      schema_data: { prompt, userSchema, inferredSchema, promptEdited },
      selected_models: selected,
      status: 'draft',
    };
  }

  // Saves what is on the page (one save at a time, the last one wins).
  function save() {
    clearTimeout(saveTimer);
    saving = saving.then(async () => {
      await ensureDraft();
      status('Saving…');
      const { error } = await supabase.from('benchmark_drafts').update(content()).eq('id', draftId);
      if (error) { status(`Not saved: ${error.message}`, true); return false; }
      status('All changes saved.');
      await refreshEstimate();
      return true;
    }).catch((e) => { status(`Not saved: ${e.message}`, true); return false; });
    return saving;
  }
  const saveSoon = () => { clearTimeout(saveTimer); status('Unsaved changes…'); saveTimer = setTimeout(save, 600); };

  async function refreshEstimate() {
    if (!draftId) return;
    const { data, error } = await supabase.rpc('estimate_draft_cost', { p_draft_id: draftId });
    estimate = error ? null : data;
    renderEstimate();
  }

  return { start };

  async function start() {
    await App.requireSession();
    supabase = await App.client();
    userId = (await App.session()).user.id;
    draftId = new URLSearchParams(location.search).get('draft');
    const [limitsAnswer, catalogAnswer] = await Promise.all([
      supabase.rpc('draft_limits'),
      supabase.from('model_catalog').select('id, display_name, provider, prompt_usd_per_mtok, completion_usd_per_mtok, image_usd, supports_json_schema, zero_retention, provider_created_at')
        .eq('active', true),
    ]);
    limits = limitsAnswer.data; catalog = catalogAnswer.data || [];
    price = (await App.price()).text;
    document.querySelectorAll('[data-price]').forEach((element) => { element.textContent = price; });
    if (!limits) return status('The server is not answering; reload the page in a minute.', true);
    if (draftId) {
      const { data, error } = await supabase.from('benchmark_drafts')
        .select('id, status, config_data, upload_data, schema_data, selected_models').eq('id', draftId).maybeSingle();
      if (error || !data) return status('This draft does not exist or is not yours.', true);
      if (data.status === 'paid') { status('This benchmark is already paid for; its report is on your dashboard.', true); return; }
      draft = data;
      images = (data.upload_data.images || []).map((i) => ({ ...i, expectedText: i.expected ? JSON.stringify(i.expected, null, 2) : i.expected_text || '' }));
      ({ userSchema = null, inferredSchema = {}, prompt = '' } = data.schema_data || {});
      promptEdited = data.schema_data?.promptEdited ?? Boolean(prompt.trim());
      selected = data.selected_models || [];
      $('#name').value = data.config_data.name || '';
      $('#zero-retention').checked = data.config_data.zero_retention === true;
      $('#repeats').value = String(data.config_data.repeats || 1);
      $('#title').textContent = data.config_data.name || 'New benchmark';
    }
    $('#image-limits').textContent = `A PDF (each page becomes a page of one document, up to ${limits.max_pages_per_document}), or a PNG, JPEG, WebP or GIF image `
      + `of up to ${R.mib(limits.max_image_bytes)}; ${limits.max_images} documents and ${limits.max_pages_per_benchmark} pages per benchmark.`;
    $('#expected-limits').textContent = `One JSON object per document: at most ${R.kb(limits.max_expected_bytes)}, ${limits.max_depth} levels, ${limits.max_array_items} items in a list, ${limits.max_fields} fields.`;
    wire();
    await renderImages();
    renderExpected();
    updateSchema();
    renderModels();
    $('#wizard').hidden = false;
    if (location.hash === '#step-3') { $('#step-3').scrollIntoView(); $('#model-search').focus(); }
    status(draftId ? 'All changes saved.' : 'Nothing saved yet: your draft is saved as soon as you start.');
    await refreshEstimate();
  }

  function wire() {
    $('#name').addEventListener('input', () => { $('#title').textContent = $('#name').value || 'New benchmark'; saveSoon(); });
    // The database holds repeats to draft_limits().max_repeats; offer no more.
    [...$('#repeats').options].filter((option) => Number(option.value) > limits.max_repeats).forEach((option) => option.remove());
    $('#repeats').addEventListener('change', save);
    $('#files').addEventListener('change', (e) => { addFiles([...e.target.files]); e.target.value = ''; });
    const drop = $('#drop');
    drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
    drop.addEventListener('dragleave', () => drop.classList.remove('over'));
    drop.addEventListener('drop', (e) => { e.preventDefault(); drop.classList.remove('over'); addFiles([...e.dataTransfer.files]); });
    $('#copy-structure').addEventListener('click', copyStructure);
    $('#schema').addEventListener('input', schemaTyped);
    $('#infer').addEventListener('click', () => { userSchema = null; updateSchema(); saveSoon(); });
    $('#prompt').addEventListener('input', () => { prompt = $('#prompt').value; promptEdited = true; saveSoon(); });
    $('#pay').addEventListener('click', pay);
  }

  // Documents ----------------------------------------------------------------

  function dimensions(file) {
    return new Promise((resolve) => {
      const img = new Image();
      img.onload = () => { resolve({ width: img.naturalWidth, height: img.naturalHeight }); URL.revokeObjectURL(img.src); };
      img.onerror = () => resolve(null);
      img.src = URL.createObjectURL(file);
    });
  }

  async function addFiles(files) {
    $('#refused').innerHTML = '';
    let count = images.length;
    for (const file of files) {
      const why = R.refuseFile(file, count, limits);
      if (why) { $('#refused').insertAdjacentHTML('beforeend', `<li class="error">${App.text(why)}</li>`); continue; }
      count += 1;
      if (R.isPdf(file)) uploadPdf(file); else upload(file);
    }
  }

  // Every page of the documents so far (a document without pages is its
  // own one page).
  function pagesOf(image) {
    return image.pages || [{ path: image.path, width: image.width, height: image.height }];
  }
  function pageCount() {
    return images.reduce((sum, image) => sum + pagesOf(image).length, 0);
  }

  // A PDF becomes one document of its pages, drawn in the browser; a PDF
  // that cannot be read, or has too many pages, is refused with its
  // sentence before anything is uploaded.
  async function uploadPdf(file) {
    const row = document.createElement('li');
    row.innerHTML = `<span>${App.text(file.name)}</span>
      <progress aria-label="Reading ${App.text(file.name)}"></progress><span class="muted" aria-live="polite">reading the PDF…</span>`;
    $('#uploads').append(row);
    const note = row.querySelector('span.muted');
    const uploaded = [];
    try {
      if (!window.PdfPages) throw new Error('the PDF reader has not loaded; reload the page and try again');
      const rendered = await window.PdfPages.render(file, { side: limits.send_max_side_px, maxPages: limits.max_pages_per_document });
      if (pageCount() + rendered.length > limits.max_pages_per_benchmark) {
        throw new Error(`its ${rendered.length} pages would make more than the ${limits.max_pages_per_benchmark} pages a benchmark may hold`);
      }
      const tooLarge = rendered.findIndex((page) => page.blob.size > limits.max_image_bytes);
      if (tooLarge >= 0) throw new Error(`page ${tooLarge + 1} is larger than ${R.mib(limits.max_image_bytes)} as an image`);
      note.textContent = `uploading ${rendered.length} page${rendered.length === 1 ? '' : 's'}…`;
      await ensureDraft();
      const id = crypto.randomUUID();
      for (const [n, page] of rendered.entries()) {
        uploaded.push({ path: await storeFile(`${id}-p${n + 1}.png`, page.blob, 'image/png'), width: page.width, height: page.height });
      }
      images.push({ path: uploaded[0].path, name: file.name, width: uploaded[0].width, height: uploaded[0].height, pages: uploaded, expectedText: '' });
      row.remove();
      await renderImages();
      renderExpected();
      await save();
    } catch (e) {
      // Nothing of a PDF that did not make it stays stored.
      if (uploaded.length) await supabase.storage.from(BUCKET).remove(uploaded.map((p) => p.path));
      row.querySelector('progress')?.remove();
      note.className = 'error';
      note.textContent = `not added: ${e.message.startsWith(`${file.name}: `) ? e.message.slice(file.name.length + 2) : e.message}`;
    }
  }

  async function upload(file) {
    const row = document.createElement('li');
    row.innerHTML = `<img alt="" src="${URL.createObjectURL(file)}"><span>${App.text(file.name)}</span>
      <progress aria-label="Uploading ${App.text(file.name)}"></progress><span class="muted" aria-live="polite">uploading…</span>`;
    $('#uploads').append(row);
    const note = row.querySelector('span.muted');
    try {
      const stored = await storeImage(file);
      images.push({ ...stored, name: file.name, expectedText: '' });
      row.remove();
      await renderImages();
      renderExpected();
      await save();
    } catch (e) {
      row.querySelector('progress').remove();
      note.className = 'error';
      note.textContent = `not uploaded: ${e.message}`;
    }
  }

  // An image the owner chose, checked as the database would check its size
  // and stored in the draft's folder: { path, width, height }.
  async function storeImage(file) {
    const size = await dimensions(file);
    if (!size) throw new Error('this file is not a readable image');
    // The database refuses an image's size past draft_limits().
    const side = limits.max_image_side_px;
    if (size.width > side || size.height > side) {
      throw new Error(`${size.width} × ${size.height} pixels; an image may be at most ${side.toLocaleString('en-US')} pixels wide and tall`);
    }
    await ensureDraft();
    // Object names are letters, digits, '.', '_' and '-' (the storage rule).
    const extension = file.name.split('.').pop().toLowerCase().replace(/[^a-z0-9]/g, '').slice(0, 10) || 'img';
    return { path: await storeFile(`${crypto.randomUUID()}.${extension}`, file, file.type), ...size };
  }

  // Puts `blob` in the draft's folder as `name`: its path.
  async function storeFile(name, blob, contentType) {
    const path = `${userId}/${draftId}/${name}`;
    const { error } = await supabase.storage.from(BUCKET).upload(path, blob, { contentType, upsert: false });
    if (error) throw new Error(error.message);
    return path;
  }

  async function renderImages() {
    const paths = images.flatMap((image) => pagesOf(image).map((page) => page.path));
    const signed = paths.length ? (await supabase.storage.from(BUCKET).createSignedUrls(paths, 3600)).data || [] : [];
    let at = 0;
    images.forEach((image) => {
      image.pageUrls = pagesOf(image).map(() => signed[at++]?.signedUrl || '');
      image.url = image.pageUrls[0];
    });
    $('#uploads').querySelectorAll('li.done').forEach((li) => li.remove());
    $('#uploads').insertAdjacentHTML('afterbegin', images.map((image, i) => `<li class="done">
      <img id="image-${i}" alt="${App.text(image.name)}${image.pages?.length > 1 ? ', page 1' : ''}" src="${App.text(image.url)}"><span>${App.text(image.name)}`
      + `${image.pages?.length > 1 ? ` <span class="muted pages">· ${image.pages.length} pages</span>` : ''}</span>`
      + `<progress value="1" max="1" aria-label="${App.text(image.name)} uploaded"></progress>
      <button type="button" class="secondary" data-remove="${i}" aria-label="Remove ${App.text(image.name)}">Remove</button>`
      + `<span class="thumbnails">${image.pages?.length > 1 ? image.pageUrls.map((url, p) => `<span class="page">
          <img alt="${App.text(image.name)}, page ${p + 1}" src="${App.text(url)}">
          ${p ? `<button type="button" class="secondary" data-earlier="${i}:${p}" aria-label="Move page ${p + 1} of ${App.text(image.name)} earlier">↑</button>` : ''}
          <button type="button" class="secondary" data-remove-page="${i}:${p}" aria-label="Remove page ${p + 1} of ${App.text(image.name)}">✕</button></span>`).join('') : ''}
        <label class="link add-page">Add a page<input type="file" class="visually-hidden" data-add-page="${i}" accept="image/png,image/jpeg,image/webp,image/gif"
          aria-label="Add a page to ${App.text(image.name)}"></label></span></li>`).join(''));
    const place = (button, key) => button.dataset[key].split(':').map(Number);
    $('#uploads').querySelectorAll('[data-remove]').forEach((button) => button.addEventListener('click', () => removeImage(Number(button.dataset.remove))));
    $('#uploads').querySelectorAll('[data-earlier]').forEach((button) => button.addEventListener('click', () => movePageEarlier(...place(button, 'earlier'))));
    $('#uploads').querySelectorAll('[data-remove-page]').forEach((button) => button.addEventListener('click', () => removePage(...place(button, 'removePage'))));
    $('#uploads').querySelectorAll('[data-add-page]').forEach((input) => input.addEventListener('change', () => {
      if (input.files[0]) addPage(Number(input.dataset.addPage), input.files[0]);
    }));
  }

  // A document's pages changed: its own path and size are its first page's.
  async function pagesChanged(image, pages) {
    image.pages = pages;
    Object.assign(image, { path: pages[0].path, width: pages[0].width, height: pages[0].height });
    await renderImages();
    renderExpected();
    await save();
  }

  // Another image becomes the document's last page (the back of a
  // receipt), within the page limits.
  async function addPage(index, file) {
    const image = images[index];
    const refuse = (why) => $('#refused').insertAdjacentHTML('beforeend', `<li class="error">${App.text(`${file.name}: ${why}`)}</li>`);
    $('#refused').innerHTML = '';
    if (!R.IMAGE_TYPES.includes(file.type)) return refuse('a page is a PNG, JPEG, WebP or GIF image.');
    if (file.size > limits.max_image_bytes) return refuse(`${R.mib(file.size)} is larger than the ${R.mib(limits.max_image_bytes)} limit.`);
    if (pagesOf(image).length >= limits.max_pages_per_document) return refuse(`a document may have at most ${limits.max_pages_per_document} pages.`);
    if (pageCount() >= limits.max_pages_per_benchmark) return refuse(`a benchmark may hold at most ${limits.max_pages_per_benchmark} pages.`);
    let page;
    try {
      page = await storeImage(file);
    } catch (e) {
      return refuse(`not added: ${e.message}.`);
    }
    await pagesChanged(image, [...pagesOf(image), page]);
  }

  async function movePageEarlier(index, page) {
    const pages = [...pagesOf(images[index])];
    [pages[page - 1], pages[page]] = [pages[page], pages[page - 1]];
    await pagesChanged(images[index], pages);
  }

  // Takes one page out of a document (its file deleted only if this draft
  // uploaded it); a document's last page goes with the document.
  async function removePage(index, page) {
    const pages = [...pagesOf(images[index])];
    if (pages.length === 1) return removeImage(index);
    const [gone] = pages.splice(page, 1);
    const own = App.filesOfDraft([gone.path], userId, draftId);
    if (own.length) await supabase.storage.from(BUCKET).remove(own);
    await pagesChanged(images[index], pages);
  }

  // Takes a document out of the draft; its file is deleted only if this
  // draft uploaded it (a re-run's documents are its earlier report's).
  async function removeImage(index) {
    const [image] = images.splice(index, 1);
    const own = App.filesOfDraft((image.pages || [image]).map((p) => p.path), userId, draftId);
    if (own.length) await supabase.storage.from(BUCKET).remove(own);
    await renderImages();
    renderExpected();
    updateSchema();
    await save();
  }

  // Expected JSON and schema ---------------------------------------------------

  function renderExpected() {
    $('#copy-structure').hidden = images.length < 2;
    $('#expected').innerHTML = images.map((image, i) => `<div class="expected">
      <img alt="${App.text(image.name)}" src="${App.text(image.url)}">
      <div><label for="expected-${i}">Expected JSON for ${App.text(image.name)}</label>
      <textarea id="expected-${i}" rows="10" spellcheck="false" aria-describedby="expected-${i}-note">${App.text(image.expectedText)}</textarea>
      <p id="expected-${i}-note" aria-live="polite"></p></div></div>`).join('') || '<p class="muted">Add documents first.</p>';
    images.forEach((image, i) => {
      const area = $(`#expected-${i}`);
      area.addEventListener('input', () => { image.expectedText = area.value; checkExpected(i); updateSchema(); saveSoon(); });
      checkExpected(i);
    });
  }

  function checkExpected(i) {
    const image = images[i], note = $(`#expected-${i}-note`), area = $(`#expected-${i}`);
    const read = R.readExpected(image.expectedText, limits, `expected JSON of image ${i + 1} (${image.name})`);
    image.expected = read.value;
    image.fields = read.fields || 0;
    note.textContent = read.error || `${read.fields} field${read.fields === 1 ? '' : 's'}.`;
    note.className = read.error ? 'error' : 'muted';
    area.setAttribute('aria-invalid', read.error && image.expectedText.trim() ? 'true' : 'false');
  }

  function copyStructure() {
    const first = images[0]?.expected;
    if (!first) { status('Write image 1\'s expected JSON first.', true); return; }
    images.slice(1).forEach((image, k) => {
      if (image.expectedText.trim()) return;
      image.expectedText = JSON.stringify(R.emptied(first), null, 2);
      $(`#expected-${k + 1}`).value = image.expectedText;
      checkExpected(k + 1);
    });
    updateSchema();
    saveSoon();
  }

  function updateSchema() {
    inferredSchema = R.infer(images.map((i) => i.expected).filter(Boolean));
    if (document.activeElement !== $('#schema')) $('#schema').value = JSON.stringify(schema(), null, 2);
    $('#schema-error').textContent = '';
    renderFields();
    if (!promptEdited) { prompt = R.defaultPrompt(schema()); $('#prompt').value = prompt; }
    else $('#prompt').value = prompt;
    $('#prompt-note').textContent = promptEdited ? 'Your own prompt.' : 'Written from the schema; edit it if you like.';
    renderSummary();
  }

  function schemaTyped() {
    try {
      const typed = JSON.parse($('#schema').value);
      if (typeof typed !== 'object' || typed === null || Array.isArray(typed)) throw new Error('a JSON Schema is one object');
      userSchema = typed;
      updateSchema();
      saveSoon();
    } catch (e) {
      $('#schema-error').textContent = `Not saved until it is valid: ${e.message}`;
    }
  }

  // The field table: type, required, and how each compares.
  function renderFields() {
    const rows = R.fields(schema());
    $('#fields tbody').innerHTML = rows.map((f, i) => {
      const type = R.typeOf(f.schema);
      const compare = type === 'array'
        ? `<label><input type="checkbox" data-field="${i}" data-set="ordered" ${f.schema['x-ordered'] ? 'checked' : ''}> order matters</label>`
        : type === 'string'
          ? `<select data-field="${i}" data-set="compare" aria-label="How ${App.text(f.path)} compares">
              ${[['exact', 'exactly'], ['case-insensitive', 'ignoring case'], ['date', 'as a date'], ['date-time', 'as a date and time']].map(([v, l]) =>
                `<option value="${v}" ${(f.schema.format || f.schema['x-compare'] || 'exact') === v ? 'selected' : ''}>${l}</option>`).join('')}</select>`
          : type === 'number' || type === 'integer' ? 'as an amount' : '';
      return `<tr><td><code>${App.text(f.path)}</code></td>
        <td><select data-field="${i}" data-set="type" aria-label="Type of ${App.text(f.path)}">${['string', 'number', 'integer', 'boolean', 'object', 'array']
          .map((t) => `<option ${t === type ? 'selected' : ''}>${t}</option>`).join('')}</select></td>
        <td>${f.key === null ? '' : `<input type="checkbox" data-field="${i}" data-set="required" aria-label="${App.text(f.path)} required" ${(f.parent.required || []).includes(f.key) ? 'checked' : ''}>`}</td>
        <td>${compare}</td></tr>`;
    }).join('');
    $('#fields tbody').querySelectorAll('[data-field]').forEach((control) => control.addEventListener('change', () => editField(rows[Number(control.dataset.field)], control)));
  }

  function editField(field, control) {
    const edited = JSON.parse(JSON.stringify(schema()));
    const target = R.fields(edited).find((f) => f.path === field.path);
    const s = target.schema;
    if (control.dataset.set === 'type') {
      const nullable = [].concat(s.type || []).includes('null');
      s.type = nullable ? [control.value, 'null'] : control.value;
      if (control.value !== 'string') { delete s.format; delete s['x-compare']; }
    } else if (control.dataset.set === 'required') {
      const required = new Set(target.parent.required || []);
      control.checked ? required.add(target.key) : required.delete(target.key);
      target.parent.required = [...required];
    } else if (control.dataset.set === 'ordered') {
      if (control.checked) s['x-ordered'] = true; else delete s['x-ordered'];
    } else {
      delete s.format; delete s['x-compare'];
      if (control.value === 'case-insensitive') s['x-compare'] = 'case-insensitive';
      else if (control.value !== 'exact') s.format = control.value;
    }
    userSchema = edited;
    updateSchema();
    saveSoon();
  }

  // Models, estimate, pay ----------------------------------------------------

  // The models still offered; a pick the catalog no longer offers is taken
  // out, and said. On a re-run, the earlier report's models are marked and
  // those added since it highlighted.
  function renderModels() {
    const offered = new Set(catalog.map((m) => m.id));
    const dropped = selected.filter((id) => !offered.has(id));
    if (dropped.length) {
      selected = selected.filter((id) => offered.has(id));
      $('#models-dropped').hidden = false;
      $('#models-dropped').textContent = `No longer offered, so taken out of your picks: ${dropped.join(', ')}.`;
      saveSoon();
    }
    const source = draft?.config_data?.source_report;
    const earlier = new Set(source?.models || []);
    const since = new Set(source ? catalog.filter((m) => !earlier.has(m.id) && Date.parse(m.provider_created_at) > Date.parse(source.paid_at)).map((m) => m.id) : []);
    if (source) {
      $('#rerun-note').hidden = false;
      $('#rerun-note').textContent = `The documents of “${source.name || 'your earlier report'}”, ready to run again. `
        + `Its ${earlier.size} model${earlier.size === 1 ? ' is' : 's are'} marked; `
        + (since.size ? `${since.size} model${since.size === 1 ? ' was' : 's were'} added since it ran, highlighted.` : 'no model was added since it ran.');
    }
    performance.mark('model-step-start');
    const step = ModelStep.mount({ list: $('#models'), search: $('#model-search'), jsonOnly: $('#model-json-only'),
      keepsNothing: $('#zero-retention'), count: $('#model-count') },
      catalog, { selected, max: limits.max_models, earlier, since, now: Date.now() },
      (picked) => { selected = picked; renderSummary(); save(); });
    // Asking for zero retention unpicks the models that cannot keep to it.
    $('#zero-retention').addEventListener('change', () => {
      const dropped = $('#zero-retention').checked ? step.unpick((model) => model.zero_retention) : [];
      $('#models-dropped').hidden = !dropped.length;
      $('#models-dropped').textContent = dropped.length
        ? `No endpoint of ${dropped.join(', ')} keeps nothing, so ${dropped.length === 1 ? 'it was' : 'they were'} taken out of your picks.` : '';
      saveSoon();
    });
    performance.measure('model-step-render', 'model-step-start');
  }

  // The worst case the engine would reserve, and what to drop when over.
  function overCeiling() {
    // The database compares the worst case with the ceiling (one home for it).
    if (!estimate || !estimate.may_stop_at_ceiling) return null;
    const [model, cost] = Object.entries(estimate.worst_case_by_model_usd).sort((a, b) => b[1] - a[1])[0];
    const name = catalog.find((m) => m.id === model)?.display_name || model;
    const fewer = estimate.repeats > 1 ? ', some documents, or ask for fewer answers per document' : ' or some documents';
    return `In the worst case these calls cost ${App.money(estimate.worst_case_usd)}, over the ${App.money(estimate.soft_ceiling_usd)} a report may spend. Drop ${name} (up to ${App.money(cost)})${fewer}.`;
  }

  function renderEstimate() {
    const over = overCeiling();
    $('#estimate').className = over ? 'error' : 'muted';
    $('#estimate').textContent = over || (estimate && estimate.calls
      ? `${estimate.calls} model calls${estimate.repeats > 1 ? ` (each model reads each document ${estimate.repeats} times)` : ''}, at most ${App.money(estimate.worst_case_usd)} of model cost in the worst case (included in the ${price}).`
      : 'Pick models to see what their calls may cost.');
    renderSummary();
  }

  function renderSummary() {
    const fieldCount = images.reduce((sum, i) => sum + (i.expected ? i.fields : 0), 0);
    const ready = images.length && images.every((i) => i.expected) && selected.length && prompt.trim() && !overCeiling();
    $('#summary').textContent = `${images.length} document${images.length === 1 ? '' : 's'}, ${fieldCount} expected fields, `
      + `${selected.length} model${selected.length === 1 ? '' : 's'}`
      + (estimate && estimate.calls ? `, ${estimate.calls} calls at most ${App.money(estimate.worst_case_usd)}.` : '.');
    $('#pay').disabled = !ready;
  }

  async function pay() {
    const button = $('#pay');
    button.disabled = true; button.textContent = 'Checking your benchmark…'; $('#error').textContent = '';
    try {
      if (!(await save())) throw new Error($('#save-status').textContent);
      const { error } = await supabase.from('benchmark_drafts').update({ status: 'ready' }).eq('id', draftId);
      if (error) throw new Error(error.message);
      button.textContent = 'Opening checkout…';
      location.href = await App.checkout(draftId);
    } catch (e) {
      $('#error').textContent = e.message;
      button.disabled = false; button.textContent = 'Pay & Run Benchmark';
    }
  }
})();
