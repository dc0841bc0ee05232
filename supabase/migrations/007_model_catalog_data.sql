-- The vision models offered at launch, with OpenRouter's list prices when
-- they were added (USD per million tokens). Re-running updates the prices.

insert into public.model_catalog
  (id, display_name, provider, prompt_usd_per_mtok, completion_usd_per_mtok, supports_json_schema)
values
  ('openai/gpt-4o',                            'GPT-4o',                   'OpenAI',    2.50,  10.00, true),
  ('openai/gpt-4o-mini',                       'GPT-4o mini',              'OpenAI',    0.15,   0.60, true),
  ('anthropic/claude-3.5-sonnet',              'Claude 3.5 Sonnet',        'Anthropic', 3.00,  15.00, false),
  ('anthropic/claude-3-haiku',                 'Claude 3 Haiku',           'Anthropic', 0.25,   1.25, false),
  ('google/gemini-2.0-flash-001',              'Gemini 2.0 Flash',         'Google',    0.10,   0.40, true),
  ('google/gemini-flash-1.5',                  'Gemini 1.5 Flash',         'Google',    0.075,  0.30, true),
  ('qwen/qwen-2.5-vl-72b-instruct',            'Qwen2.5-VL 72B',           'Qwen',      0.70,   0.70, false),
  ('meta-llama/llama-3.2-11b-vision-instruct', 'Llama 3.2 11B Vision',     'Meta',      0.055,  0.055, false),
  ('mistralai/pixtral-12b',                    'Pixtral 12B',              'Mistral',   0.10,   0.10, true),
  ('mistralai/pixtral-large-2411',             'Pixtral Large',            'Mistral',   2.00,   6.00, true)
on conflict (id) do update
  set display_name = excluded.display_name,
      provider = excluded.provider,
      prompt_usd_per_mtok = excluded.prompt_usd_per_mtok,
      completion_usd_per_mtok = excluded.completion_usd_per_mtok,
      supports_json_schema = excluded.supports_json_schema;
