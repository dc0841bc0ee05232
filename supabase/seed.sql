-- Local demo data: one user and one draft that is ready to pay for.
-- Sign in as demo@modelpick.local with the password modelpick-demo.
-- The images themselves are uploaded to Storage by `scripts/dev`.

insert into auth.users (
  instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
  raw_app_meta_data, raw_user_meta_data, created_at, updated_at,
  confirmation_token, email_change, email_change_token_new, recovery_token
) values (
  '00000000-0000-0000-0000-000000000000',
  'd3e0a000-0000-4000-8000-000000000001',
  'authenticated',
  'authenticated',
  'demo@modelpick.local',
  extensions.crypt('modelpick-demo', extensions.gen_salt('bf')),
  now(),
  '{"provider": "email", "providers": ["email"]}',
  '{"name": "Demo User"}',
  now(),
  now(),
  '', '', '', ''
);

insert into auth.identities (id, user_id, provider_id, identity_data, provider, last_sign_in_at, created_at, updated_at)
values (
  'd3e0a000-0000-4000-8000-000000000002',
  'd3e0a000-0000-4000-8000-000000000001',
  'd3e0a000-0000-4000-8000-000000000001',
  '{"sub": "d3e0a000-0000-4000-8000-000000000001", "email": "demo@modelpick.local", "email_verified": true}',
  'email',
  now(),
  now(),
  now()
);

insert into public.benchmark_drafts (id, user_id, status, config_data, upload_data, schema_data, selected_models)
values (
  'd3e0a000-0000-4000-8000-0000000000d1',
  'd3e0a000-0000-4000-8000-000000000001',
  'ready',
  '{"name": "Supplier invoices", "documentType": "invoice"}',
  $json${
    "images": [
      {
        "path": "d3e0a000-0000-4000-8000-000000000001/demo/invoice-1.png",
        "name": "invoice-1.png",
        "expected": {
          "invoice_number": "INV-1001",
          "date": "2026-03-14",
          "vendor": "Acme Paper Co.",
          "total": 1284.5,
          "items": [
            {"description": "A4 copier paper, 5 reams", "quantity": 20, "unit_price": 24.95},
            {"description": "Delivery", "quantity": 1, "unit_price": 785.5}
          ]
        }
      },
      {
        "path": "d3e0a000-0000-4000-8000-000000000001/demo/invoice-2.png",
        "name": "invoice-2.png",
        "expected": {
          "invoice_number": "INV-1002",
          "date": "2026-04-02",
          "vendor": "Northwind Traders",
          "total": 96.0,
          "items": [
            {"description": "Ink cartridge, black", "quantity": 3, "unit_price": 32.0}
          ]
        }
      },
      {
        "path": "d3e0a000-0000-4000-8000-000000000001/demo/invoice-3.png",
        "name": "invoice-3.png",
        "expected": {
          "invoice_number": "INV-1003",
          "date": "2026-04-19",
          "vendor": "Blue Harbor Logistics",
          "total": 2150.0,
          "items": [
            {"description": "Pallet storage, April", "quantity": 10, "unit_price": 180.0},
            {"description": "Handling fee", "quantity": 1, "unit_price": 350.0}
          ]
        }
      }
    ]
  }$json$,
  $json${
    "prompt": "Extract the invoice number, invoice date (YYYY-MM-DD), vendor name, total amount and line items (description, quantity, unit price) from this invoice.",
    "userSchema": null,
    "inferredSchema": {
      "type": "object",
      "properties": {
        "invoice_number": {"type": "string"},
        "date": {"type": "string"},
        "vendor": {"type": "string"},
        "total": {"type": "number"},
        "items": {
          "type": "array",
          "items": {
            "type": "object",
            "properties": {
              "description": {"type": "string"},
              "quantity": {"type": "number"},
              "unit_price": {"type": "number"}
            },
            "required": ["description", "quantity", "unit_price"]
          }
        }
      },
      "required": ["invoice_number", "date", "vendor", "total", "items"]
    }
  }$json$,
  array['openai/gpt-4o', 'google/gemini-2.0-flash-001', 'anthropic/claude-3.5-sonnet']
);
