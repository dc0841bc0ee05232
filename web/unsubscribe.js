// The unsubscribe link of an email about new models: it works without
// signing in, by the token the link carries (stop_report_watch). Opening
// the page stops nothing (mail scanners open links); the button does.
const token = new URLSearchParams(location.search).get('token') || '';
App.$('#form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const button = App.$('#submit');
  button.disabled = true; App.refuse('');
  try {
    const supabase = await App.client();
    const { data: stopped, error } = await supabase.rpc('stop_report_watch', { p_token: token });
    if (error) throw error;
    App.$('#form').hidden = true;
    const done = App.$('#done');
    done.textContent = stopped
      ? 'Done: you will get no more emails about new models for that report. You can ask for them again on its page.'
      : 'This link stops nothing: those emails were stopped already, or the link is not whole. Emails about new models end with a link of their own.';
    done.hidden = false;
    done.focus();
  } catch (e) {
    App.refuse(App.failure(e));
    button.disabled = false;
  }
});
