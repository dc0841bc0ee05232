// The local Supabase API driven by the real @supabase/supabase-js, as the
// pages will use it. Run by scripts/test against a devstack gateway on a
// database of its own (SUPABASE_URL and the keys come from there).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from '@supabase/supabase-js';
import ws from 'ws';

const url = process.env.SUPABASE_URL;
const anonKey = process.env.SUPABASE_ANON_KEY;
const serviceKey = process.env.SUPABASE_SERVICE_ROLE_KEY;
const DEMO_USER = 'd3e0a000-0000-4000-8000-000000000001';
const DEMO_DRAFT = 'd3e0a000-0000-4000-8000-0000000000d1';
// Node < 22 has no WebSocket of its own; supabase-js builds a realtime
// client even when it is not used.
const options = { auth: { persistSession: false, autoRefreshToken: false }, realtime: { transport: ws } };

assert.ok(url && anonKey && serviceKey, 'SUPABASE_URL and both keys are set');

async function signedIn(email, password) {
  const client = createClient(url, anonKey, options);
  let { error } = await client.auth.signInWithPassword({ email, password });
  if (error) {
    ({ error } = await client.auth.signUp({ email, password }));
    assert.equal(error, null, `sign-up of ${email}`);
  }
  return client;
}

test('the demo user signs in and reads its own draft with .single()', async () => {
  const demo = await signedIn('demo@modelpick.local', 'modelpick-demo');
  const { data, error } = await demo.from('benchmark_drafts').select('id, status, selected_models').eq('id', DEMO_DRAFT).single();
  assert.equal(error, null);
  assert.equal(data.status, 'ready');
  assert.equal(data.selected_models.length, 3);

  const { data: user } = await demo.auth.getUser();
  assert.equal(user.user.id, DEMO_USER);
});

test('another user cannot read the demo draft', async () => {
  const other = await signedIn('js-other@example.test', 'other-password');
  const { data, error } = await other.from('benchmark_drafts').select('*').eq('id', DEMO_DRAFT).single();
  assert.equal(data, null);
  assert.equal(error.code, 'PGRST116');
  const { data: maybe } = await other.from('benchmark_drafts').select('*').eq('id', DEMO_DRAFT).maybeSingle();
  assert.equal(maybe, null);
});

test('a wrong password is refused without saying whether the email exists', async () => {
  const client = createClient(url, anonKey, options);
  const wrong = await client.auth.signInWithPassword({ email: 'demo@modelpick.local', password: 'nope' });
  const unknown = await client.auth.signInWithPassword({ email: 'nobody@modelpick.local', password: 'nope' });
  assert.equal(wrong.error.status, 400);
  assert.equal(wrong.error.message, unknown.error.message);
  assert.equal(wrong.error.code, 'invalid_credentials');
});

test('service role calls an RPC; a share link opens that one report and nothing about who paid', async () => {
  const service = createClient(url, serviceKey, options);
  const { data: fulfilled, error } = await service.rpc('fulfill_checkout', {
    p_stripe_session_id: 'cs_js_share', p_draft_id: DEMO_DRAFT, p_user_id: DEMO_USER,
  });
  assert.equal(error, null);
  const reportId = fulfilled[0].report_id;

  const demo = await signedIn('demo@modelpick.local', 'modelpick-demo');
  const own = await demo.rpc('read_report', { p_report_id: reportId });
  assert.equal(own.error, null);
  assert.equal(own.data.owner, true);
  const token = own.data.share_token;
  assert.match(token, /^[0-9a-f]{64}$/);
  const nullToken = await demo.rpc('read_report', { p_report_id: reportId, p_share_token: null });
  assert.equal(nullToken.data.id, reportId, 'a null argument is SQL NULL');

  const visitor = createClient(url, anonKey, options);
  const shared = await visitor.rpc('read_report', { p_report_id: reportId, p_share_token: token });
  assert.equal(shared.error, null);
  assert.equal(shared.data.id, reportId);
  assert.equal(shared.data.status, 'paid');
  assert.deepEqual(shared.data.models.map((m) => m.id), ['openai/gpt-4o', 'google/gemini-2.0-flash-001', 'anthropic/claude-3.5-sonnet']);
  assert.deepEqual(shared.data.documents.map((d) => d.name), ['invoice-1.png', 'invoice-2.png', 'invoice-3.png']);
  for (const hidden of ['user_id', 'stripe_session_id', 'draft_id', 'refund_id', 'lease_token']) {
    assert.equal(hidden in shared.data, false, `${hidden} is not shared`);
  }
  assert.equal(shared.data.share_token, null);
  const wrong = await visitor.rpc('read_report', { p_report_id: reportId, p_share_token: token + '0' });
  assert.equal(wrong.data, null);
  const table = await visitor.from('reports').select('id');
  assert.equal(table.error.code, '42501', 'the table itself is closed to visitors');

  const rotated = await demo.rpc('rotate_report_share_token', { p_report_id: reportId });
  assert.equal(rotated.error, null);
  assert.notEqual(rotated.data, token);
  assert.equal((await visitor.rpc('read_report', { p_report_id: reportId, p_share_token: token })).data, null,
    'the old link stops working');
  const stranger = await signedIn('js-rpc@example.test', 'rpc-password');
  const notTheirs = await stranger.rpc('rotate_report_share_token', { p_report_id: reportId });
  assert.equal(notTheirs.error.code, 'PT404');

  const refused = await stranger.rpc('fulfill_checkout', { p_stripe_session_id: 'x', p_draft_id: DEMO_DRAFT, p_user_id: DEMO_USER });
  assert.equal(refused.error.code, '42501');
});

test('a user inserts and patches a draft where the policies allow', async () => {
  const user = await signedIn('js-writer@example.test', 'writer-password');
  const created = await user.from('benchmark_drafts').insert({ config_data: { name: 'Receipts' } }).select().single();
  assert.equal(created.error, null);
  assert.equal(created.data.status, 'draft');

  const patched = await user.from('benchmark_drafts').update({ selected_models: ['openai/gpt-4o-mini'] }).eq('id', created.data.id).select().single();
  assert.equal(patched.error, null);
  assert.deepEqual(patched.data.selected_models, ['openai/gpt-4o-mini']);

  const paying = await user.from('benchmark_drafts').update({ status: 'paid' }).eq('id', created.data.id);
  assert.equal(paying.error.code, '42501');
});

test('an array insert sends the union of its keys as columns=, as PostgREST takes it', async () => {
  const user = await signedIn('js-bulk@example.test', 'bulk-password');
  const same = await user.from('benchmark_drafts')
    .insert([{ config_data: { name: 'A' } }, { config_data: { name: 'B' } }])
    .select('config_data, status');
  assert.equal(same.error, null);
  assert.deepEqual(same.data.map((d) => d.config_data.name).sort(), ['A', 'B']);

  // Keys missing from one object are null (a NOT NULL column refuses it)...
  const ragged = await user.from('benchmark_drafts')
    .insert([{ config_data: { name: 'C' } }, { config_data: { name: 'D' }, selected_models: ['openai/gpt-4o'] }]);
  assert.equal(ragged.error.code, '23502');
  // ...unless the client asks for the columns' defaults.
  const defaulted = await user.from('benchmark_drafts')
    .insert([{ config_data: { name: 'E' } }, { config_data: { name: 'F' }, selected_models: ['openai/gpt-4o'] }],
      { defaultToNull: false })
    .select('config_data, selected_models');
  assert.equal(defaulted.error, null);
  assert.deepEqual(defaulted.data.map((d) => d.selected_models), [[], ['openai/gpt-4o']]);

  const sneaky = await user.from('benchmark_drafts').insert([{ config_data: {}, user_id: DEMO_USER }]);
  assert.equal(sneaky.error.code, '42501', 'nobody writes a draft\'s owner');
});

test('storage: upload, download and a signed URL for the owner only', async () => {
  const demo = await signedIn('demo@modelpick.local', 'modelpick-demo');
  const path = `${DEMO_USER}/js/receipt.png`;
  const bytes = Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3, 4]);
  const uploaded = await demo.storage.from('benchmark-images').upload(path, bytes, { contentType: 'image/png', upsert: true });
  assert.equal(uploaded.error, null);

  const downloaded = await demo.storage.from('benchmark-images').download(path);
  assert.equal(downloaded.error, null);
  assert.deepEqual(Buffer.from(await downloaded.data.arrayBuffer()), bytes);

  const signed = await demo.storage.from('benchmark-images').createSignedUrl(path, 60);
  assert.equal(signed.error, null);
  const fetched = await fetch(signed.data.signedUrl);
  assert.equal(fetched.status, 200);
  assert.deepEqual(Buffer.from(await fetched.arrayBuffer()), bytes);

  const other = await signedIn('js-other@example.test', 'other-password');
  const denied = await other.storage.from('benchmark-images').download(path);
  assert.ok(denied.error, 'another user cannot download it');
  const planted = await other.storage.from('benchmark-images').upload(`${DEMO_USER}/planted.png`, bytes, { contentType: 'image/png' });
  assert.ok(planted.error, 'nor upload into the owner\'s folder');
});

test('storage: a browser File uploads as multipart, lists under the same rules as downloads, and is removed', async () => {
  const demo = await signedIn('demo@modelpick.local', 'modelpick-demo');
  const bucket = demo.storage.from('benchmark-images');
  const folder = `${DEMO_USER}/js-list`;
  const png = (n) => new File([new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, n])], `page-${n}.png`, { type: 'image/png' });
  for (const name of ['b.png', 'a.png', 'nested/c.png']) {
    const uploaded = await bucket.upload(`${folder}/${name}`, png(name.length), { upsert: true });
    assert.equal(uploaded.error, null, `upload ${name}`);
    assert.equal(uploaded.data.path, `${folder}/${name}`);
  }
  const downloaded = await bucket.download(`${folder}/a.png`);
  assert.deepEqual([...new Uint8Array(await downloaded.data.arrayBuffer())], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 5]);

  const listed = await bucket.list(folder);
  assert.equal(listed.error, null);
  assert.deepEqual(listed.data.map((e) => [e.name, e.id === null]), [['nested', true], ['a.png', false], ['b.png', false]],
    'folders first, then files by name');
  const a = listed.data.find((e) => e.name === 'a.png');
  assert.equal(a.metadata.mimetype, 'image/png');
  assert.equal(a.metadata.size, 9);
  const page = await bucket.list(folder, { limit: 1, offset: 1, sortBy: { column: 'name', order: 'desc' } });
  assert.deepEqual(page.data.map((e) => e.name), ['b.png']);
  const found = await bucket.list(folder, { search: 'b' });
  assert.deepEqual(found.data.map((e) => e.name), ['b.png']);

  const other = await signedIn('js-other@example.test', 'other-password');
  const peek = await other.storage.from('benchmark-images').list(folder);
  assert.deepEqual(peek.data, [], 'another user lists nothing of it');
  const theirs = await other.storage.from('benchmark-images').remove([`${folder}/a.png`]);
  assert.deepEqual(theirs.data, [], 'nor removes it');

  const text = await bucket.upload(`${folder}/notes.txt`, new File(['hello'], 'notes.txt', { type: 'text/plain' }));
  assert.equal(text.error.statusCode, '415');
  assert.match(text.error.message, /mime type text\/plain is not supported/);

  const removed = await bucket.remove([`${folder}/a.png`, `${folder}/b.png`, `${folder}/nested/c.png`]);
  assert.equal(removed.error, null);
  assert.deepEqual(removed.data.map((o) => o.name).sort(), [`${folder}/a.png`, `${folder}/b.png`, `${folder}/nested/c.png`]);
  assert.deepEqual((await bucket.list(folder)).data, []);
  assert.ok((await bucket.download(`${folder}/a.png`)).error, 'a removed file is gone');
});

test('sessions refresh and end', async () => {
  const demo = await signedIn('demo@modelpick.local', 'modelpick-demo');
  const before = (await demo.auth.getSession()).data.session;
  const refreshed = await demo.auth.refreshSession();
  assert.equal(refreshed.error, null);
  assert.notEqual(refreshed.data.session.refresh_token, before.refresh_token);
  const { error } = await demo.auth.signOut();
  assert.equal(error, null);
  const reused = await createClient(url, anonKey, options).auth.refreshSession({ refresh_token: refreshed.data.session.refresh_token });
  assert.ok(reused.error, 'a signed-out session cannot be refreshed');
});

test('an oversized draft is refused with a sentence the owner understands, and nothing is stored', async () => {
  const owner = await signedIn('js-limits@example.test', 'limits-password');
  const { data: limits, error: limitsError } = await owner.rpc('draft_limits');
  assert.equal(limitsError, null);
  assert.equal(limits.max_array_items, 200);

  const { data: user } = await owner.auth.getUser();
  const items = Array.from({ length: 5000 }, (_, i) => i);
  const huge = await owner.from('benchmark_drafts').insert({
    upload_data: { images: [{ path: `${user.user.id}/invoice.png`, name: 'invoice.png', expected: { items } }] },
  }).select('id');
  assert.equal(huge.status, 400);
  assert.equal(huge.error.code, '23514');
  assert.equal(huge.error.message, 'A list in the expected JSON of image 1 (invoice.png) has 5000 items; the limit is 200.');

  const prompt = await owner.from('benchmark_drafts').insert({ schema_data: { prompt: 'p'.repeat(9000) } });
  assert.equal(prompt.status, 400);
  assert.equal(prompt.error.message, 'The prompt is 8.8 KB; the limit is 8.0 KB.');

  const { data: mine } = await owner.from('benchmark_drafts').select('id');
  assert.deepEqual(mine, []);
});
