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
      var text = b.hasAttribute('data-copy') ? b.getAttribute('data-copy') : document.getElementById(b.getAttribute('data-copy-from')).value;
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
    if (secret.showModal) { secret.close(); secret.showModal(); }
    secret.querySelector('[data-close-secret]').addEventListener('click', function (e) { e.preventDefault(); leave(); });
    secret.addEventListener('cancel', function (e) { e.preventDefault(); leave(); });
    history.replaceState(null, '', to);
    var field = document.getElementById('issued-secret');
    if (field) { field.focus(); field.select(); }
  }

  document.querySelectorAll('select[data-autosubmit]').forEach(function (s) {
    s.addEventListener('change', function () { s.form.submit(); });
  });

  var unit = document.getElementById('lifespanUnit');
  var value = document.getElementById('lifespanValue');
  if (unit && value) {
    unit.addEventListener('change', function () { value.max = unit.value === 'minutes' ? '55' : '24'; });
  }
})();
