/* global document, window, sessionStorage, fetch, URLSearchParams */
// The status page's script: no framework, no library. It keeps the admin token in sessionStorage (this tab only),
// calls the admin API with it, and draws the two charts as inline SVG. Everything from the server is written with
// textContent, never as HTML, so an email or an error message cannot inject markup.
(function () {
  'use strict';

  var TOKEN_KEY = 'optout-sync.adminToken';
  var REFRESH_MS = Number(new URLSearchParams(window.location.search).get('refreshMs')) || 3000;
  var SVG = 'http://www.w3.org/2000/svg';
  var timer = null;

  function $(id) {
    return document.getElementById(id);
  }

  function token() {
    return sessionStorage.getItem(TOKEN_KEY);
  }

  function AuthError() {}

  function api(method, path) {
    return fetch(path, { method: method, headers: { Authorization: 'Bearer ' + token(), Accept: 'application/json' }, cache: 'no-store' }).then(function (response) {
      if (response.status === 401) throw new AuthError();
      return response.json().then(function (body) {
        if (!response.ok) throw new Error(method + ' ' + path + ': ' + (body && body.error ? body.error : 'HTTP ' + response.status));
        return body;
      });
    });
  }

  function el(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function replaceRows(tbody, rows, emptyText, columns) {
    tbody.replaceChildren();
    if (rows.length === 0) {
      var tr = el('tr');
      var td = el('td', emptyText, 'muted');
      td.colSpan = columns;
      tr.appendChild(td);
      tbody.appendChild(tr);
      return;
    }
    rows.forEach(function (row) {
      tbody.appendChild(row);
    });
  }

  function when(value) {
    if (value === null || value === undefined) return '—';
    var date = new Date(value);
    return isNaN(date.getTime()) ? String(value) : date.toLocaleString();
  }

  function showLogin(message) {
    if (timer !== null) window.clearTimeout(timer);
    timer = null;
    $('dashboard').hidden = true;
    $('sign-out').hidden = true;
    $('login').hidden = false;
    $('login-error').textContent = message || '';
    $('summary').textContent = 'Not connected';
  }

  function showDashboard() {
    $('login').hidden = true;
    $('dashboard').hidden = false;
    $('sign-out').hidden = false;
  }

  function renderStatus(status) {
    var stream = status.stream;
    var health = status.health || { degraded: false, reasons: [] };
    $('degraded-banner').hidden = !health.degraded;
    $('degraded-reasons').replaceChildren.apply($('degraded-reasons'), health.reasons.map(function (reason) { return el('li', reason); }));
    $('summary').textContent = status.instanceId + (status.leader ? ' · leader' : ' · standby') + ' · settings from ' + status.settingsSource + ' · updated ' + new Date().toLocaleTimeString();
    var dl = $('stream-state');
    dl.replaceChildren();
    function item(label, value, className) {
      dl.appendChild(el('dt', label));
      dl.appendChild(el('dd', value, className));
    }
    if (stream === null) {
      item('State', status.leader ? 'not started' : 'standby: another instance streams', 'muted');
    } else {
      item('State', stream.status, stream.connected ? 'ok' : 'bad');
      item('Connected since', stream.connected ? when(stream.connectedSince) : '—');
      item('Last heard from Salesforce', when(stream.lastConnectAt));
      item('Restarts', stream.restarts);
      if (stream.lastError) item('Last error', stream.lastError, 'bad');
      Object.keys(stream.channels).forEach(function (name) {
        var channel = stream.channels[name];
        item(name, (channel.subscribed ? 'subscribed' : 'not subscribed') + ', ' + channel.delivered + ' delivered, last replay id ' + (channel.lastReplayId || '—'));
      });
    }
    item('ActiveCampaign', status.acReachable === null ? 'unknown' : status.acReachable, status.acReachable === 'unreachable' ? 'bad' : undefined);
    var sfApi = status.salesforceApi;
    if (sfApi) {
      item('Salesforce API use (24 h)', sfApi.used === null ? 'unknown' : sfApi.used + ' of ' + sfApi.max, sfApi.writesPausedUntil ? 'bad' : undefined);
      if (sfApi.writesPausedUntil) item('Salesforce writes', 'paused: daily API limit reached, queued until ' + when(sfApi.writesPausedUntil), 'bad');
    }
    if (status.salesforcePermissions && status.salesforcePermissions.length > 0) {
      status.salesforcePermissions.forEach(function (f) {
        item('Salesforce permission', (f.field ? f.object + '.' + f.field : f.object) + ' lacks ' + f.permission + ': ' + f.message, 'bad');
      });
    }
    item('Last poll', when(status.lastPollAt));
    var rec = status.reconciliation;
    if (rec) {
      var last = rec.last;
      var text = last
        ? when(last.finishedAt) + (last.dryRun ? ' (dry run)' : '') + ': ' + last.compared + ' compared, drift ' + last.drift.sfToAc + ' Salesforce→AC, ' + last.drift.acToSf + ' AC→Salesforce, ' + last.queued + ' fixed'
        : 'not run yet';
      if (rec.running && rec.progress) text = 'running (' + rec.progress.phase + ', ' + rec.progress.done + ' read); last: ' + text;
      item('Reconciliation', text, rec.lastError ? 'bad' : undefined);
      if (rec.lastError) item('Reconciliation error', rec.lastError, 'bad');
    }

    replaceRows(
      $('queue-rows'),
      status.queue.map(function (q) {
        var tr = el('tr');
        tr.appendChild(el('td', q.kind));
        tr.appendChild(el('td', q.state));
        tr.appendChild(el('td', q.n));
        return tr;
      }),
      'empty',
      3,
    );
  }

  var CHANGES_SHOWN = 20;

  /** A decision that changed nothing because the value was already there (mostly our own writes seen again). */
  function isEcho(e) {
    return e.decision === 'skip' && e.oldValue !== null && e.oldValue === e.newValue;
  }

  var listNames = {};
  var listNamesAt = 0;
  var STATUS_WORDS = { 1: 'subscribed', 2: 'unsubscribed', 3: 'bounced' };

  /** "list 3: 2" as the admin reads it: "Newsletter: unsubscribed" (the id stays when the name is unknown). */
  var missingListId = null;

  function readable(value) {
    if (value === null || value === undefined) return '—';
    return String(value).replace(/list (\d+): (\d+)/g, function (_all, id, status) {
      if (!listNames[id]) missingListId = id;
      return (listNames[id] ? '"' + listNames[id] + '"' : 'list ' + id) + ': ' + (STATUS_WORDS[status] || status);
    });
  }

  function oldToNew(e) {
    return e.oldValue === null && e.newValue === null ? '' : readable(e.oldValue) + ' → ' + readable(e.newValue);
  }

  function loadListNames(missing) {
    return api('GET', '/admin/lists' + (missing ? '?missing=' + encodeURIComponent(missing) : '')).then(
      function (body) {
        listNames = body.lists || {};
        listNamesAt = Date.now();
      },
      function () {
        // Names are a nicety: ids are shown while AC cannot be asked.
      },
    );
  }

  /** One row of the audit log; `first` is the person column (email, or the direction in a history). */
  function auditRow(e, first) {
    var tr = el('tr');
    tr.appendChild(el('td', when(e.occurredAt)));
    tr.appendChild(el('td', first));
    tr.appendChild(el('td', e.decision));
    tr.appendChild(el('td', oldToNew(e)));
    tr.appendChild(el('td', e.reason, 'why'));
    tr.appendChild(el('td', e.result));
    return tr;
  }

  /** Runs of echoes become one row with their count, so that they do not push the real changes out of view. */
  function foldEchoes(entries, rowFor) {
    var rows = [];
    var run = [];
    function flush() {
      if (run.length === 0) return;
      var tr = el('tr', null, 'echoes');
      tr.appendChild(el('td', when(run[0].occurredAt)));
      var td = el('td', run.length + (run.length === 1 ? ' value already in step' : ' values already in step') + ' (our own writes seen again, nothing to do)', 'muted');
      td.colSpan = 5;
      tr.appendChild(td);
      rows.push(tr);
      run = [];
    }
    entries.forEach(function (e) {
      if (isEcho(e)) {
        run.push(e);
        return;
      }
      flush();
      rows.push(rowFor(e));
    });
    flush();
    return rows;
  }

  function renderChanges(direction, entries) {
    var rows = foldEchoes(entries, function (e) {
      return auditRow(e, e.email || e.recordId || '—');
    });
    replaceRows($('changes-' + direction), rows.slice(0, CHANGES_SHOWN), 'no changes yet', 6);
  }

  var DIRECTIONS = { sf_to_ac: 'Salesforce → AC', ac_to_sf: 'AC → Salesforce', internal: 'internal' };

  function search(email) {
    $('search-message').textContent = 'Searching…';
    return api('GET', '/admin/history/' + encodeURIComponent(email))
      .then(function (body) {
        var rows = foldEchoes(body.entries, function (e) {
          return auditRow(e, DIRECTIONS[e.direction] || e.direction);
        });
        $('history').hidden = body.entries.length === 0;
        replaceRows($('history-rows'), rows, '', 6);
        $('search-message').textContent = body.entries.length === 0 ? 'Nothing recorded for ' + body.email + '.' : body.entries.length + ' decision(s) recorded for ' + body.email + ', newest first.';
      })
      .catch(function (error) {
        if (error instanceof AuthError) showLogin('The token was refused.');
        else $('search-message').textContent = 'Search failed: ' + error.message;
      });
  }

  function renderDeadLetters(letters) {
    replaceRows(
      $('dead-letter-rows'),
      letters.map(function (d) {
        var tr = el('tr');
        tr.dataset.deadLetterId = d.id;
        tr.appendChild(el('td', d.id));
        tr.appendChild(el('td', d.kind));
        tr.appendChild(el('td', d.subject));
        tr.appendChild(el('td', d.attempts));
        tr.appendChild(el('td', d.lastError, 'error-text'));
        tr.appendChild(el('td', when(d.failedAt)));
        var cell = el('td');
        var button = el('button', 'Retry');
        button.type = 'button';
        button.addEventListener('click', function () {
          retry(d.id, button);
        });
        cell.appendChild(button);
        tr.appendChild(cell);
        return tr;
      }),
      'none',
      7,
    );
  }

  function retry(id, button) {
    button.disabled = true;
    api('POST', '/admin/dead-letters/' + encodeURIComponent(id) + '/retry')
      .then(function (body) {
        $('dead-letter-message').textContent = body.retried ? 'Dead letter ' + id + ' sent back to the queue.' : 'Dead letter ' + id + ' was already retried.';
        return refresh();
      })
      .catch(function (error) {
        button.disabled = false;
        if (error instanceof AuthError) showLogin('The token was refused.');
        else $('dead-letter-message').textContent = 'Retry failed: ' + error.message;
      });
  }

  function svgNode(tag, attrs, className) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs).forEach(function (key) {
      node.setAttribute(key, String(attrs[key]));
    });
    if (className) node.setAttribute('class', className);
    return node;
  }

  /** Bars for each point, one series beside the other; `limit` draws a dashed ceiling. */
  function drawBars(container, points, series, options) {
    var width = 600;
    var height = 160;
    var bottom = 18;
    var top = 8;
    var max = options.limit || 0;
    points.forEach(function (p) {
      series.forEach(function (s) {
        max = Math.max(max, p[s.key]);
      });
    });
    max = Math.max(max, 1);
    var svg = svgNode('svg', { viewBox: '0 0 ' + width + ' ' + height, preserveAspectRatio: 'none', role: 'img' });
    var slot = width / Math.max(points.length, 1);
    var barWidth = Math.max(1, (slot * 0.8) / series.length);
    var scale = (height - bottom - top) / max;
    points.forEach(function (p, i) {
      series.forEach(function (s, j) {
        var value = p[s.key];
        if (value <= 0) return;
        var h = Math.max(1, value * scale);
        var rect = svgNode('rect', { x: (i * slot + slot * 0.1 + j * barWidth).toFixed(1), y: (height - bottom - h).toFixed(1), width: barWidth.toFixed(1), height: h.toFixed(1) }, s.className);
        var title = svgNode('title', {});
        title.textContent = options.label(p) + ': ' + value + ' ' + s.name;
        rect.appendChild(title);
        svg.appendChild(rect);
      });
    });
    if (options.limit) {
      var y = (height - bottom - options.limit * scale).toFixed(1);
      svg.appendChild(svgNode('line', { x1: 0, x2: width, y1: y, y2: y }, 'limit-line'));
    }
    var maxLabel = svgNode('text', { x: 2, y: top + 2 }, 'axis');
    maxLabel.textContent = String(max);
    svg.appendChild(maxLabel);
    // First, middle and last labels anchored at their start, middle and end, so none runs off the chart's edges.
    [
      { index: 0, anchor: 'start', x: 2 },
      { index: Math.floor(points.length / 2), anchor: 'middle', x: width / 2 },
      { index: points.length - 1, anchor: 'end', x: width - 2 },
    ].forEach(function (tick) {
      var p = points[tick.index];
      if (!p) return;
      var text = svgNode('text', { x: tick.x.toFixed(1), y: height - 4, 'text-anchor': tick.anchor }, 'axis');
      text.textContent = options.label(p);
      svg.appendChild(text);
    });
    container.replaceChildren(svg);
  }

  function shortTime(iso) {
    return new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  }

  function refresh() {
    if (timer !== null) window.clearTimeout(timer);
    timer = null;
    return Promise.all([
      api('GET', '/admin/status'),
      // Names are read every five minutes, or sooner (the server allows every 10 s) for a list seen without one.
      Date.now() - listNamesAt > 5 * 60000 || (missingListId !== null && Date.now() - listNamesAt > 10000) ? loadListNames(missingListId) : null,
      // More than are shown: echoes are folded into one row, and the real changes behind them still fill the table.
      api('GET', '/admin/changes?direction=sf_to_ac&limit=100'),
      api('GET', '/admin/changes?direction=ac_to_sf&limit=100'),
      api('GET', '/admin/dead-letters'),
      api('GET', '/admin/series/opt-outs?hours=24'),
      api('GET', '/admin/series/ac-usage?minutes=60'),
    ])
      .then(function (answers) {
        missingListId = null;
        showDashboard();
        $('load-error').textContent = '';
        renderStatus(answers[0]);
        renderChanges('sf_to_ac', answers[2].entries);
        renderChanges('ac_to_sf', answers[3].entries);
        renderDeadLetters(answers[4].deadLetters);
        drawBars($('opt-out-chart'), answers[5].hours, [
          { key: 'salesforceToAc', name: 'Salesforce → AC', className: 'sf-bar' },
          { key: 'acToSalesforce', name: 'AC → Salesforce', className: 'ac-bar' },
        ], { label: function (p) { return shortTime(p.hour); } });
        drawBars($('ac-chart'), answers[6].minutes, [
          { key: 'requests', name: 'requests', className: 'req-bar' },
          { key: 'throttled', name: '429 answers', className: 'throttled-bar' },
        ], { limit: answers[6].limitPerMinute, label: function (p) { return shortTime(p.minute); } });
      })
      .catch(function (error) {
        if (error instanceof AuthError) {
          sessionStorage.removeItem(TOKEN_KEY);
          showLogin('The token was refused.');
          return;
        }
        $('load-error').textContent = 'Could not refresh: ' + error.message;
      })
      .then(function () {
        if (token() !== null && timer === null) timer = window.setTimeout(refresh, REFRESH_MS);
      });
  }

  document.addEventListener('DOMContentLoaded', function () {
    $('login-form').addEventListener('submit', function (event) {
      event.preventDefault();
      var value = $('token').value.trim();
      if (value === '') return;
      sessionStorage.setItem(TOKEN_KEY, value);
      $('token').value = '';
      refresh();
    });
    $('search-form').addEventListener('submit', function (event) {
      event.preventDefault();
      var email = $('search-email').value.trim();
      if (email !== '') search(email);
    });
    $('sign-out').addEventListener('click', function () {
      sessionStorage.removeItem(TOKEN_KEY);
      showLogin('');
    });
    if (token() === null) showLogin('');
    else refresh();
  });
})();
