-- The shape other parts of the system rely on.
begin;
select plan(15);

select has_table('public', 'benchmark_drafts', 'benchmark_drafts exists');
select has_table('public', 'reports', 'reports exists');
select has_table('public', 'benchmark_runs', 'benchmark_runs exists');
select has_view('public', 'report_model_summary', 'report_model_summary exists');
select col_is_unique('public', 'reports', 'stripe_session_id', 'one report per Stripe session');
select col_is_unique('public', 'reports', 'share_token', 'share tokens are unique');
select col_is_unique('public', 'benchmark_runs', array['report_id', 'model_id', 'image_index', 'repeat'], 'one run per report, model, image and repeat');
select has_index('public', 'benchmark_runs', 'idx_benchmark_runs_report_id', 'runs are indexed by report');
select has_index('public', 'benchmark_runs', 'idx_benchmark_runs_report_model', 'runs are indexed by report and model');
select columns_are('public', 'benchmark_runs', array[
  'id', 'report_id', 'model_id', 'image_index', 'output_json', 'response_time_ms', 'prompt_tokens',
  'completion_tokens', 'total_tokens', 'cost', 'passed', 'field_diffs', 'fields_total', 'fields_matched',
  'error', 'created_at', 'attempts', 'attempts_at_worst_case', 'unavailable', 'repeat'], 'benchmark_runs has the seed''s columns plus field counts, how its cost is known, whether the data policy left the model unavailable and which repeat of its call it is');
select has_trigger('public', 'reports', 'reports_notify_paid', 'paid reports notify the engines');
select has_trigger('public', 'reports', 'reports_updated_at', 'reports keep updated_at');
select has_trigger('public', 'benchmark_drafts', 'benchmark_drafts_updated_at', 'drafts keep updated_at');
select is((select reloptions from pg_class where oid = 'public.reports'::regclass), array['fillfactor=70'],
          'a report''s pages keep room for the updates of its run');
select is((select public from storage.buckets where id = 'benchmark-images'), false, 'the image bucket is private');
select * from finish();
rollback;
