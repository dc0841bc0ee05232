// The wizard's model step for a catalog of hundreds: models grouped by
// maker (makers A to Z, each maker's newest first), found by name, id or
// maker as you type, narrowed to models that answer to a JSON Schema or
// to those with an endpoint that keeps nothing (zero data retention); a
// "New" mark for models the provider added in the last 30 days; on a
// re-run, the models of the earlier report marked and those added since
// it highlighted. Rendered once; a search only hides and shows, so typing
// stays instant at any catalog size.
const ModelStep = (() => {
  const DAY_MS = 86_400_000;
  const NEW_FOR_DAYS = 30;

  const added = (model) => (model.provider_created_at ? Date.parse(model.provider_created_at) : NaN);
  const isNew = (model, now) => now - added(model) < NEW_FOR_DAYS * DAY_MS;
  const words = (text) => String(text).toLowerCase().normalize('NFKD').replace(/[\u0300-\u036f]/g, '');

  // Makers A to Z; within one, the newest first, then by name.
  function arrange(catalog) {
    const byMaker = new Map();
    for (const model of catalog) {
      if (!byMaker.has(model.provider)) byMaker.set(model.provider, []);
      byMaker.get(model.provider).push(model);
    }
    const newestFirst = (a, b) => (added(b) || 0) - (added(a) || 0) || a.display_name.localeCompare(b.display_name);
    return [...byMaker.entries()]
      .sort(([a], [b]) => a.localeCompare(b, undefined, { sensitivity: 'base' }))
      .map(([maker, models]) => ({ maker, models: models.sort(newestFirst) }));
  }

  // Whether `model` is found by every word of `query`.
  function matches(model, query, jsonOnly, keepsNothing = false) {
    if (jsonOnly && !model.supports_json_schema) return false;
    if (keepsNothing && !model.zero_retention) return false;
    const haystack = words(`${model.display_name} ${model.id} ${model.provider}`);
    return words(query).split(/\s+/).every((word) => haystack.includes(word));
  }

  function perImage(model) {
    return Number(model.image_usd) > 0 ? ` + ${App.money(model.image_usd)} an image` : '';
  }

  function row(model, index, context) {
    const marks = [
      context.earlier.has(model.id) ? '<span class="badge earlier">In your earlier report</span>' : '',
      context.since.has(model.id) ? '<span class="badge since">New since your report</span>'
        : isNew(model, context.now) ? '<span class="badge new">New</span>' : '',
    ].join('');
    return `<label class="model${context.since.has(model.id) ? ' highlight' : ''}" data-index="${index}">
      <input type="checkbox" value="${App.text(model.id)}" ${context.selected.includes(model.id) ? 'checked' : ''}>
      <span><strong>${App.text(model.display_name)}</strong> ${marks}<span class="muted"> ${App.text(model.id)}</span><br>
      <span class="muted">${App.rates(model.prompt_usd_per_mtok, model.completion_usd_per_mtok)}${perImage(model)}`
      + `${model.supports_json_schema ? ' · answers to a JSON Schema' : ''}`
      + `${model.zero_retention ? ' · can keep nothing (zero data retention)' : ''}</span></span></label>`;
  }

  // Renders `catalog` into `elements.list` and wires the search. `context`:
  // {selected, max, earlier: Set, since: Set, now}. `onChange(selected)`
  // after each pick. Returns what the wizard asks of the step.
  function mount(elements, catalog, context, onChange) {
    const groups = arrange(catalog);
    const order = groups.flatMap((group) => group.models);
    let index = 0;
    elements.list.innerHTML = groups.map((group, g) => {
      const id = `maker-${g}`;
      const rows = group.models.map((model) => row(model, index++, context)).join('');
      return `<fieldset class="maker" aria-labelledby="${id}"><legend id="${id}">${App.text(group.maker)}`
        + ` <span class="muted">(${group.models.length})</span></legend>${rows}</fieldset>`;
    }).join('');
    const labels = [...elements.list.querySelectorAll('label.model')];
    const makers = [...elements.list.querySelectorAll('fieldset.maker')];
    let selected = [...context.selected];

    function limit() {
      const full = selected.length >= context.max;
      for (const label of labels) {
        const box = label.firstElementChild;
        box.disabled = full && !box.checked;
      }
    }

    function filter() {
      const query = elements.search.value.trim();
      const jsonOnly = elements.jsonOnly.checked;
      const keepsNothing = elements.keepsNothing.checked;
      let shown = 0;
      for (const label of labels) {
        const visible = !query && !jsonOnly && !keepsNothing ? true : matches(order[label.dataset.index], query, jsonOnly, keepsNothing);
        label.hidden = !visible;
        shown += visible;
      }
      for (const maker of makers) maker.hidden = !maker.querySelector('label.model:not([hidden])');
      elements.count.textContent = query || jsonOnly || keepsNothing
        ? `${shown} of ${labels.length} models match.`
        : `${labels.length} models from ${makers.length} makers.`;
    }

    function picked() {
      selected = labels.filter((label) => label.firstElementChild.checked).map((label) => order[label.dataset.index].id);
      limit();
      onChange(selected);
    }

    // Unpicks the models `keep` refuses; returns their names.
    function unpick(keep) {
      const dropped = labels.filter((label) => label.firstElementChild.checked && !keep(order[label.dataset.index]));
      dropped.forEach((label) => { label.firstElementChild.checked = false; });
      if (dropped.length) picked();
      return dropped.map((label) => order[label.dataset.index].display_name);
    }

    elements.list.addEventListener('change', (event) => {
      if (event.target.matches('input[type="checkbox"]')) picked();
    });
    elements.search.addEventListener('input', filter);
    elements.jsonOnly.addEventListener('change', filter);
    elements.keepsNothing.addEventListener('change', filter);
    limit();
    filter();
    return { filter, unpick };
  }

  return { mount, arrange, matches, isNew };
})();
