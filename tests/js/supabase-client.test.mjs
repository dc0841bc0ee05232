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

test('service role calls an RPC; the share token header opens that one report', async () => {
  const service = createClient(url, serviceKey, options);
  const { data: fulfilled, error } = await service.rpc('fulfill_checkout', {
    p_stripe_session_id: 'cs_js_share', p_draft_id: DEMO_DRAFT, p_user_id: DEMO_USER,
  });
  assert.equal(error, null);
  const reportId = fulfilled[0].report_id;
  const { data: report } = await service.from('reports').select('share_token').eq('id', reportId).single();

  const visitor = createClient(url, anonKey, { ...options, global: { headers: { 'x-share-token': report.share_token } } });
  const shared = await visitor.from('reports').select('id, status').eq('id', reportId).single();
  assert.equal(shared.error, null);
  assert.deepEqual(shared.data, { id: reportId, status: 'paid' });

  const stranger = createClient(url, anonKey, options);
  const hidden = await stranger.from('reports').select('id');
  assert.deepEqual(hidden.data, []);

  const user = await signedIn('js-rpc@example.test', 'rpc-password');
  const refused = await user.rpc('fulfill_checkout', { p_stripe_session_id: 'x', p_draft_id: DEMO_DRAFT, p_user_id: DEMO_USER });
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
