// SPDX-License-Identifier: Apache-2.0
#include "http/dashboard.hpp"

namespace ssehub::http {

// clang-format off
const std::string_view dashboard_html = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>ssehub</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.3em; } h2 { font-size: 1.1em; margin-top: 1.5em; }
table { border-collapse: collapse; } td, th { padding: 2px 10px; border-bottom: 1px solid #ddd; text-align: left; }
form { margin: .5em 0; } input, textarea { font: inherit; } textarea { width: 30em; height: 3em; }
#status { color: #666; } .err { color: #b00; }
</style>
</head>
<body>
<h1>ssehub</h1>
<p>Namespace: digipair <input id="dp" size="12"> reasoning <input id="rs" size="12">
key <input id="key" type="password" size="16" placeholder="(open hub)"> <span id="status"></span></p>
<h2>Sessions</h2>
<table><thead><tr><th>id</th><th>connected</th><th>channels</th></tr></thead><tbody id="sessions"></tbody></table>
<h2>Channels</h2>
<table><thead><tr><th>id</th><th>members</th><th>connected</th></tr></thead><tbody id="channels"></tbody></table>
<h2>Push</h2>
<form id="push">session <input name="id" required>
<br><textarea name="message">{"text":"hello"}</textarea><br><button>push</button></form>
<h2>Broadcast</h2>
<form id="broadcast">channel <input name="id" placeholder="(every session)"> event <input name="event" placeholder="message">
<br><textarea name="message">{"text":"hello all"}</textarea><br><button>broadcast</button></form>
<pre id="result"></pre>
<script>
const $ = (id) => document.getElementById(id);
// With auth.publishers configured, the control API needs a key; it stays in this tab only.
$('key').value = sessionStorage.getItem('ssehub-key') || '';
$('key').addEventListener('change', () => { sessionStorage.setItem('ssehub-key', $('key').value); refresh(); });
const auth = (h = {}) => $('key').value ? { ...h, authorization: 'Bearer ' + $('key').value } : h;
const ns = () => { const q = new URLSearchParams(); if ($('dp').value) q.set('digipair', $('dp').value);
  if ($('rs').value) q.set('reasoning', $('rs').value); const s = q.toString(); return s ? '?' + s : ''; };
const cell = (text) => { const td = document.createElement('td'); td.textContent = text; return td; };
const row = (...cells) => { const tr = document.createElement('tr'); cells.forEach(c => tr.appendChild(cell(c))); return tr; };
async function refresh() {
  try {
    const get = async (path) => { const r = await fetch(path + ns(), { headers: auth() });
      if (!r.ok) { throw new Error(r.status === 401 || r.status === 403 ? 'needs a key with introspection' : 'status ' + r.status); }
      return r.json(); };
    const [s, c] = await Promise.all([get('/api/v1/sessions'), get('/api/v1/channels')]);
    $('sessions').replaceChildren(...s.sessions.map(x => row(x.id, x.connected ? 'yes' : 'no', x.channels.join(', '))));
    $('channels').replaceChildren(...c.channels.map(x => row(x.id === '' ? '"" (default)' : x.id, x.sessions.length, x.connected)));
    $('status').textContent = 'updated ' + new Date().toLocaleTimeString();
    $('status').className = '';
  } catch (e) { $('status').textContent = e instanceof TypeError ? 'hub unreachable' : e.message; $('status').className = 'err'; }
}
function send(form, pin) {
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    let message;
    try { message = JSON.parse(f.get('message')); } catch (e) { message = f.get('message'); }
    const properties = { message };
    if (f.get('id')) properties.id = f.get('id');
    if (f.get('event')) properties.event = f.get('event');
    if ($('dp').value) properties.digipair = $('dp').value;
    if ($('rs').value) properties.reasoning = $('rs').value;
    const r = await fetch('/api/v1/actions', { method: 'POST', headers: auth({ 'content-type': 'application/json' }),
      body: JSON.stringify({ library: '@digipair/skill-sse', element: pin, properties }) });
    $('result').textContent = r.status + ' ' + await r.text();
    refresh();
  });
}
send($('push'), 'push');
send($('broadcast'), 'broadcast');
refresh();
setInterval(refresh, 2000);
</script>
</body>
</html>
)html";
// clang-format on

} // namespace ssehub::http
