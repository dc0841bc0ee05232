// What the browser tests share of the model catalog: a vision model as
// OpenRouter lists it, made to arrive at the local provider, and the
// catalog synced from it as `modelpick catalog sync` does.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const providerUrl = process.env.PROVIDER_URL || 'http://127.0.0.1:12112';
const root = new URL('../../', import.meta.url).pathname;

// A vision model as OpenRouter lists it, added by the provider `created`.
export const visionModel = (id, name, created, prompt = '0.0000002', completion = '0.0000008') => ({
  id, canonical_slug: id, name, created, context_length: 128000,
  architecture: { input_modalities: ['text', 'image'], output_modalities: ['text'] },
  pricing: { prompt, completion, image: '0.0002', request: '0' },
  top_provider: { context_length: 128000, max_completion_tokens: 16384 },
  supported_parameters: ['max_tokens', 'response_format', 'structured_outputs'],
});

export async function addModel(model) {
  const response = await fetch(`${providerUrl}/_devstack/models`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(model),
  });
  assert.equal(response.status, 200);
}

export async function syncCatalog() {
  const { stdout } = await promisify(execFile)(`${root}target/release/modelpick`, ['catalog', 'sync'], {
    env: { ...process.env, OPENROUTER_BASE_URL: `${providerUrl}/v1` },
  });
  return stdout;
}
