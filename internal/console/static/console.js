// keyward console: small enhancements over server-rendered pages. Every
// action also works without this script (links lead to confirmation pages).
(function () {
  'use strict';
  var live = document.getElementById('live');
  function say(msg) { if (live) { live.textContent = ''; setTimeout(function () { live.textContent = msg; }, 30); } }

  function copy(text, button) {
    var done = function () {
      say('Copied to the clipboard');
      if (button) {
        button.classList.add('copied');
        setTimeout(function () { button.classList.remove('copied'); }, 1500);
      }
    };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(text).then(done, function () { say('Copying failed: select the text and copy it'); });
    }
  }

  document.addEventListener('click', function (e) {
    var b = e.target.closest('[data-copy],[data-copy-from]');
    if (b) {
      e.preventDefault();
      var from = b.hasAttribute('data-copy') ? null : document.getElementById(b.getAttribute('data-copy-from'));
      var text = from ? (from.value !== undefined ? from.value : from.textContent) : b.getAttribute('data-copy');
      copy(text, b);
      return;
    }
    var c = e.target.closest('a[data-confirm]');
    if (c) {
      var d = document.getElementById('confirm-dialog');
      if (!d || !d.showModal) { return; } // the link's confirmation page
      e.preventDefault();
      var f = d.querySelector('form');
      f.action = c.getAttribute('href');
      f.querySelector('[name=back]').value = location.pathname + location.search;
      d.querySelector('#confirm-title').textContent = c.getAttribute('data-confirm-title') || 'Are you sure?';
      d.querySelector('#confirm-message').textContent = c.getAttribute('data-confirm');
      var ok = d.querySelector('[data-confirm-button]');
      ok.textContent = c.getAttribute('data-confirm-button') || 'Confirm';
      ok.className = 'btn ' + (c.hasAttribute('data-danger') ? 'btn-danger' : 'btn-primary');
      var grace = d.querySelector('[data-grace]');
      grace.hidden = !c.hasAttribute('data-confirm-grace');
      grace.disabled = grace.hidden;
      if (!grace.hidden) { graceSelect.value = '0'; showCustom(); }
      d.returnFocus = c;
      d.showModal();
      d.querySelector('[data-close]').focus();
      return;
    }
    var x = e.target.closest('[data-close]');
    if (x) { x.closest('dialog').close(); }
  });

  var confirmDialog = document.getElementById('confirm-dialog');
  if (confirmDialog) {
    confirmDialog.addEventListener('close', function () { if (confirmDialog.returnFocus) { confirmDialog.returnFocus.focus(); } });
  }

  // The new secret: a modal dialog, shown once. Closing it replaces this
  // page (the answer to the form) in the history with the plain list, so
  // the secret is gone from the page, the history and the URL.
  var secret = document.getElementById('secret-dialog');
  if (secret) {
    var to = secret.getAttribute('data-close-to');
    var leave = function () {
      secret.querySelectorAll('input').forEach(function (i) { i.value = ''; });
      location.replace(to);
    };
    // Closing asks first, unless the secret was copied with its button:
    // Esc always asks, since it is so easily pressed by accident.
    var copiedSecret = false;
    var ask = secret.querySelector('[data-ask-close]');
    var askClose = function () {
      ask.hidden = false;
      secret.querySelector('[data-close-row]').hidden = true;
      ask.querySelector('[data-keep-open]').focus();
    };
    var keepOpen = function () {
      ask.hidden = true;
      secret.querySelector('[data-close-row]').hidden = false;
      var f = document.getElementById('issued-secret');
      if (f) { f.focus(); f.select(); }
    };
    if (secret.showModal) { secret.close(); secret.showModal(); }
    secret.querySelector('[data-copy-from="issued-secret"]').addEventListener('click', function () { copiedSecret = true; });
    secret.querySelector('[data-close-secret]').addEventListener('click', function (e) {
      e.preventDefault();
      if (copiedSecret) { leave(); } else { askClose(); }
    });
    ask.querySelector('[data-leave]').addEventListener('click', function (e) { e.preventDefault(); leave(); });
    ask.querySelector('[data-keep-open]').addEventListener('click', keepOpen);
    secret.addEventListener('cancel', function (e) {
      e.preventDefault();
      if (ask.hidden) { askClose(); } else { keepOpen(); }
    });
    history.replaceState(null, '', to);
    var field = document.getElementById('issued-secret');
    if (field) { field.focus(); field.select(); }
  }

  // The add form's one-time token: Back after the secret dialog brings the
  // form back (re-fetched, with a fresh token, and the typed fields
  // restored). The token already sent goes with it again, so Save answers
  // "already created" instead of making a second key.
  var once = document.querySelector('input[name=once]');
  if (once) {
    var nav = performance.getEntriesByType && performance.getEntriesByType('navigation')[0];
    var sent = sessionStorage.getItem('keyward-sent-once');
    if (sent && nav && nav.type === 'back_forward') { once.value = sent; }
    once.form.addEventListener('submit', function () { sessionStorage.setItem('keyward-sent-once', once.value); });
  }

  // A form sent back with errors: the first invalid field gets the focus,
  // and each line of the error summary leads to its field.
  var summary = document.getElementById('error-summary');
  if (summary) {
    var first = document.querySelector('[aria-invalid="true"]') || document.getElementById((summary.querySelector('[data-focus]') || {}).getAttribute ? summary.querySelector('[data-focus]').getAttribute('data-focus') : '');
    if (first) { first.focus(); }
    summary.addEventListener('click', function (e) {
      var a = e.target.closest('[data-focus]');
      var field = a && document.getElementById(a.getAttribute('data-focus'));
      if (field) { e.preventDefault(); field.focus(); field.scrollIntoView({ block: 'center' }); }
    });
  }

  var graceSelect = document.getElementById('grace');
  var graceCustom = document.getElementById('grace-custom');
  var showCustom = function () { if (graceSelect && graceCustom) { graceCustom.hidden = graceSelect.value !== 'custom'; } };
  if (graceSelect) { graceSelect.addEventListener('change', showCustom); showCustom(); }

  // Bulk actions: the checkboxes of the rows belong to the bulk form.
  var bulk = document.getElementById('bulk');
  if (bulk) {
    var picks = function () { return Array.prototype.slice.call(document.querySelectorAll('input.pick[form=bulk]')); };
    var all = bulk.querySelector('[data-select-all]');
    var chosen = bulk.querySelector('[data-chosen]');
    var update = function () {
      var n = picks().filter(function (p) { return p.checked; }).length;
      chosen.textContent = n ? n + ' chosen' : '';
      all.checked = n > 0 && n === picks().length;
      all.indeterminate = n > 0 && n < picks().length;
    };
    all.addEventListener('change', function () { picks().forEach(function (p) { p.checked = all.checked; }); update(); });
    picks().forEach(function (p) { p.addEventListener('change', update); });
    bulk.addEventListener('submit', function (e) {
      if (!picks().some(function (p) { return p.checked; })) { e.preventDefault(); say('Choose keys in the list first'); chosen.textContent = 'Choose keys in the list first'; }
    });
    update();
  }

  document.querySelectorAll('select[data-autosubmit]').forEach(function (s) {
    s.addEventListener('change', function () { s.form.submit(); });
  });

  // The expiry choice: the day field is for "On a day…" only.
  var expires = document.getElementById('expires');
  var expiresOn = document.getElementById('expiresOn-field');
  if (expires && expiresOn) {
    var showDay = function () { expiresOn.hidden = expires.value !== 'date'; };
    expires.addEventListener('change', function () {
      showDay();
      if (expires.value === 'date') { document.getElementById('expiresOn').focus(); }
    });
    showDay();
  }

  var unit = document.getElementById('lifespanUnit');
  var value = document.getElementById('lifespanValue');
  if (unit && value) {
    unit.addEventListener('change', function () { value.max = unit.value === 'minutes' ? '55' : '24'; });
  }
})();
