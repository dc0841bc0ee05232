// Attacks on the Supabase API, sent as an attacker would: supabase-js with
// the anon key alone, or with another user's session. scripts/test runs
// this against a database built with Supabase's "default privileges for
// new entities" on (every new function and table granted to every API role
// unless its migration revokes it), where these attacks once worked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { createClient } from '@supabase/supabase-js';
import ws from 'ws';

const url = process.env.SUPABASE_URL;
const anonKey = process.env.SUPABASE_ANON_KEY;
const serviceKey = process.env.SUPABASE_SERVICE_ROLE_KEY;
const options = { auth: { persistSession: false, autoRefreshToken: false }, realtime: { transport: ws } };
const BUCKET = 'benchmark-images';
const png = () => new Blob([readFileSync(new URL('../../devstack/fixtures/demo/invoice-1.png', import.meta.url))], { type: 'image/png' });

assert.ok(url && anonKey && serviceKey, 'SUPABASE_URL and both keys are set');

async function newUser(name) {
  const client = createClient(url, anonKey, options);
  const { data, error } = await client.auth.signUp({ email: `${name}-${Date.now()}-${Math.random()}@example.test`, password: 'security-password' });
  assert.equal(error, null);
  return { client, id: data.user.id };
}

// A paid report of `owner`'s, running under a lease, made by the service
// role as the engine would (the anon key cannot).
async function runningReport(owner) {
  const service = createClient(url, serviceKey, options);
  const path = `${owner.id}/paid/a.png`;
  assert.equal((await owner.client.storage.from(BUCKET).upload(path, png(), { contentType: 'image/png' })).error, null);
  const { data: draft, error } = await owner.client.from('benchmark_drafts').insert({
    status: 'ready',
    upload_data: { images: [{ path, name: 'a.png', expected: { total: 1 } }] },
    schema_data: { prompt: 'Read it.' },
    selected_models: ['openai/gpt-4o'],
  }).select('id').single();
  assert.equal(error, null);
  const session = `cs_test_sec${Date.now()}${Math.floor(Math.random() * 1e6)}`;
  const fulfilled = await service.rpc('fulfill_checkout', { p_stripe_session_id: session, p_draft_id: draft.id, p_user_id: owner.id });
  assert.equal(fulfilled.error, null);
  return { session, reportId: fulfilled.data[0].report_id };
}

// Every function the engine and the sidecar call, with arguments an
// attacker could make up or steal.
const SERVICE_FUNCTIONS = (reportId, lease) => ({
  claim_next_report: { p_worker: 'mallory', p_lease_seconds: 30, p_max_attempts: 1 },
  renew_report_lease: { p_report_id: reportId, p_lease_token: lease, p_lease_seconds: 30 },
  release_report: { p_report_id: reportId, p_lease_token: lease },
  finish_report: { p_report_id: reportId, p_lease_token: lease, p_status: 'failed', p_reason: 'x' },
  reserve_run: { p_report_id: reportId, p_lease_token: lease, p_model_id: 'openai/gpt-4o', p_image_index: 0, p_image_pixels: 1 },
  reserve_retry: { p_report_id: reportId, p_lease_token: lease, p_model_id: 'openai/gpt-4o', p_image_index: 0 },
  release_reservation: { p_report_id: reportId, p_lease_token: lease, p_model_id: 'openai/gpt-4o', p_image_index: 0 },
  record_run: { p_report_id: reportId, p_lease_token: lease, p_run: { model_id: 'openai/gpt-4o', image_index: 0 } },
  record_report_figures: { p_report_id: reportId, p_lease_token: lease, p_figures: { models: [{ latency_p95_ms: '<img src=x onerror=alert(1)>' }] } },
  reserve_runs: { p_report_id: reportId, p_lease_token: lease, p_cells: [{ model_id: 'openai/gpt-4o', image_index: 0, image_pixels: 1 }] },
  record_runs: { p_report_id: reportId, p_lease_token: lease, p_runs: [{ model_id: 'openai/gpt-4o', image_index: 0 }] },
  claim_followups: { p_worker: 'mallory', p_limit: 50, p_lease_seconds: 30 },
  complete_followup: { p_id: 1, p_lease_token: lease, p_refund_id: 're_forged' },
  fail_followup: { p_id: 1, p_lease_token: lease, p_error: 'x', p_base_seconds: 1, p_cap_seconds: 1, p_alert_after: 1 },
  fulfill_checkout: { p_stripe_session_id: 'cs_test_forged', p_draft_id: reportId, p_user_id: reportId },
  record_checkout_session: { p_stripe_session_id: 'cs_test_forged', p_status: 'refund_owed' },
  open_checkout_session: { p_stripe_session_id: 'cs_test_forged', p_draft_id: reportId },
  checkout_session_state: { p_stripe_session_id: 'cs_test_forged' },
  admit_checkout: { p_user_id: reportId },
});

test('with the anon key alone, no business function runs', async () => {
  const owner = await newUser('victim');
  const { reportId } = await runningReport(owner);
  const anon = createClient(url, anonKey, options);
  for (const [name, args] of Object.entries(SERVICE_FUNCTIONS(reportId, crypto.randomUUID()))) {
    const { data, error } = await anon.rpc(name, args);
    assert.ok(error, `${name} ran for anon: ${JSON.stringify(data)}`);
    assert.equal(error.code, '42501', `${name}: ${error.message}`);
  }
  for (const name of ['rotate_report_share_token', 'revoke_report_share_token', 'estimate_draft_cost', 'draft_limits']) {
    const args = name === 'draft_limits' ? {} : name === 'estimate_draft_cost' ? { p_draft_id: reportId } : { p_report_id: reportId };
    const { error } = await anon.rpc(name, args);
    assert.equal(error?.code, '42501', `${name} is for signed-in users only`);
  }
  // The report is still the owner's, unclaimed and unforged.
  const { data: report } = await owner.client.from('reports').select('status').eq('id', reportId).single();
  assert.equal(report.status, 'paid');
});

test('another user\'s session runs no business function either, and reaches no one else\'s rows', async () => {
  const owner = await newUser('victim2');
  const mallory = await newUser('mallory');
  const { reportId } = await runningReport(owner);
  for (const [name, args] of Object.entries(SERVICE_FUNCTIONS(reportId, crypto.randomUUID()))) {
    const { error } = await mallory.client.rpc(name, args);
    assert.equal(error?.code, '42501', `${name} ran for a signed-in stranger`);
  }
  const { error: rotate } = await mallory.client.rpc('rotate_report_share_token', { p_report_id: reportId });
  assert.equal(rotate?.code, 'PT404', 'someone else\'s share link cannot be rotated');
  const { data: reports } = await mallory.client.from('reports').select('id');
  assert.deepEqual(reports, []);
  const { error: write } = await mallory.client.from('reports').update({ status: 'failed' }).eq('id', reportId);
  assert.equal(write?.code, '42501');
  const { error: catalog } = await mallory.client.from('model_catalog').update({ prompt_usd_per_mtok: 0 }).eq('id', 'openai/gpt-4o');
  assert.equal(catalog?.code, '42501', 'nobody reprices the catalog');
});

test('an image width of 60,000 digits is refused at once, with a sentence', async () => {
  const user = await newUser('digits');
  const images = Array.from({ length: 30 }, (_, i) => ({ path: `${user.id}/d/${i}.png`, name: `${i}.png`, width: Number('9'.repeat(308)), height: 10 }));
  const huge = JSON.stringify({ images }).replace(/1e\+308|9{308}/g, '9'.repeat(60000));
  const started = performance.now();
  const response = await fetch(`${url}/rest/v1/benchmark_drafts`, {
    method: 'POST',
    headers: { apikey: anonKey, authorization: `Bearer ${(await user.client.auth.getSession()).data.session.access_token}`, 'content-type': 'application/json' },
    body: `{"upload_data": ${huge}}`,
  });
  const elapsed = performance.now() - started;
  const body = await response.json();
  assert.equal(response.status, 400, JSON.stringify(body).slice(0, 200));
  assert.equal(body.code, '23514');
  assert.equal(body.message, 'The width and height of image 1 (0.png) must be whole numbers of pixels from 1 to 20,000.');
  console.log(`# a draft of 30 images with 60,000-digit sizes refused in ${elapsed.toFixed(0)} ms`);
});

// An upload sent over a raw request, so no URL parser removes the dot
// segments before the server sees them (fetch and supabase-js would).
function rawUpload(user, token, name) {
  return new Promise((resolve, reject) => {
    const body = readFileSync(new URL('../../devstack/fixtures/demo/invoice-1.png', import.meta.url));
    const { hostname, port } = new URL(url);
    const request = http.request({
      hostname,
      port,
      path: `/storage/v1/object/${BUCKET}/${name}`,
      method: 'POST',
      headers: { apikey: anonKey, authorization: `Bearer ${token}`, 'content-type': 'image/png', 'content-length': body.length },
    }, (response) => {
      let text = '';
      response.on('data', (chunk) => { text += chunk; });
      response.on('end', () => resolve({ status: response.statusCode, body: text }));
    });
    request.on('error', reject);
    request.end(body);
  });
}

test('a ./ segment is refused in Storage and in a ready draft', async () => {
  const user = await newUser('dots');
  const token = (await user.client.auth.getSession()).data.session.access_token;
  for (const name of [`${user.id}/./a.png`, `${user.id}/d/../a.png`, `${user.id}/%2e/a.png`, `${user.id}//a.png`, `${user.id}/.a.png`]) {
    const { status, body } = await rawUpload(user, token, name);
    assert.ok(status === 400 || status === 403, `${name}: ${status} ${body}`);
  }
  const { data: listed } = await user.client.storage.from(BUCKET).list(user.id);
  assert.deepEqual(listed, [], 'nothing was stored');
  assert.equal((await rawUpload(user, token, `${user.id}/d/a.png`)).status, 200, 'a plain name is taken');
  const { data: draft } = await user.client.from('benchmark_drafts').insert({
    upload_data: { images: [{ path: `${user.id}/./d/a.png`, name: 'a.png', expected: { total: 1 } }] },
    schema_data: { prompt: 'Read it.' },
    selected_models: ['openai/gpt-4o'],
  }).select('id').single();
  const { error } = await user.client.from('benchmark_drafts').update({ status: 'ready' }).eq('id', draft.id);
  assert.equal(error?.code, '23514');
  assert.equal(error.message, 'Every image must be stored under the owner\'s own folder.');
});

test('uploads sent at once cannot overshoot the 500 images of an account', async () => {
  const user = await newUser('racer');
  const tiny = new Blob([new Uint8Array([0x89, 0x50, 0x4e, 0x47])], { type: 'image/png' });
  const upload = (name) => user.client.storage.from(BUCKET).upload(`${user.id}/race/${name}.png`, tiny, { contentType: 'image/png' });
  for (let i = 0; i < 490; i += 35) {
    const batch = await Promise.all(Array.from({ length: Math.min(35, 490 - i) }, (_, j) => upload(`a${i + j}`)));
    assert.deepEqual(batch.filter((u) => u.error).map((u) => u.error.message), []);
  }
  // Forty at once with room for ten: exactly ten are stored.
  const race = await Promise.all(Array.from({ length: 40 }, (_, j) => upload(`b${j}`)));
  assert.equal(race.filter((u) => !u.error).length, 10, 'exactly the room left is taken');
  const { data: stored } = await user.client.storage.from(BUCKET).list(`${user.id}/race`, { limit: 1000 });
  assert.equal(stored.length, 500, 'and the account holds 500, not more');
});

test('one account keeps at most 50 unfinished drafts and 500 images', async () => {
  const user = await newUser('hoarder');
  const { error: fifty } = await user.client.from('benchmark_drafts').insert(Array.from({ length: 50 }, () => ({ config_data: {} })));
  assert.equal(fifty, null);
  const { error: more } = await user.client.from('benchmark_drafts').insert({ config_data: {} });
  assert.equal(more?.code, '23514');
  assert.equal(more.message, 'You have 50 unfinished benchmarks, the most one account may keep. Delete one you no longer need to start another.');

  const tiny = new Blob([new Uint8Array([0x89, 0x50, 0x4e, 0x47])], { type: 'image/png' });
  const uploads = [];
  for (let i = 0; i < 500; i += 25) {
    uploads.push(...await Promise.all(Array.from({ length: 25 }, (_, j) =>
      user.client.storage.from(BUCKET).upload(`${user.id}/many/${i + j}.png`, tiny, { contentType: 'image/png' }))));
  }
  assert.deepEqual(uploads.filter((u) => u.error).map((u) => u.error.message), []);
  const { error: refused } = await user.client.storage.from(BUCKET).upload(`${user.id}/many/last.png`, tiny, { contentType: 'image/png' });
  assert.equal(refused?.message, 'You have stored 500 document images, the most one account may keep. Delete drafts you no longer need to upload more.');
});
