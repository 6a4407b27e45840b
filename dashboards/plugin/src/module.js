// votestream live: the front end of the data source, as Grafana's plugin loader takes it
// (an AMD module whose `plugin` is a DataSourcePlugin). Hand-written, no build step: it
// uses only what Grafana itself provides (react, @grafana/data, @grafana/runtime,
// @grafana/ui). Queries run on the plugin's back end (DataSourceWithBackend); a frame that
// names a Grafana Live channel turns the panel into a stream, which this module tells to
// append rows (time series) or replace the table, as the frame's meta.custom.live says.
define(['react', '@grafana/data', '@grafana/runtime', '@grafana/ui'], function (React, data, runtime, ui) {
  'use strict';
  var h = React.createElement;

  // The query contract of package dashboards/live; a Go test (dashboards/plugin,
  // TestFrontEndContract) fails when this literal and the Go code disagree.
  var CONTRACT = /* contract */ {
    "queryTypes": ["shares", "parties", "seats", "reporting", "statuses", "constituencies", "candidates", "calls", "anomalies", "anomaly_counts"],
    "params": {
      "shares": ["top"],
      "constituencies": ["constituency", "call"],
      "candidates": ["constituency"],
      "anomalies": ["code", "severity", "constituency"],
      "anomaly_counts": ["groupBy", "code", "severity", "constituency"]
    },
    "groupBys": ["code", "constituency", "province", "region", "age"],
    "severities": ["hard", "soft", "info"],
    "codes": ["ARITH", "OVER_ELIGIBLE", "CONFLICT", "REGRESSION", "BALLOT_GAP", "TURNOUT_OUTLIER", "SHARE_OUTLIER", "NUMBER_SWAP", "EARLY", "SPREAD", "OFFICIAL_MISMATCH", "PHOTO_REUSE", "BLOCK_SHIFT"],
    "calls": ["too_early", "leading", "likely", "called"]
  } /* end contract */;

  var LABELS = {
    shares: 'Party-list shares with 95 % interval (time series)',
    parties: 'Latest estimate per party (table)',
    seats: 'Projected seats per party (table)',
    reporting: 'Stations and voters reported (time series)',
    statuses: 'Station results by status (table)',
    constituencies: 'Constituencies: leader, probability, call (table)',
    candidates: 'Candidates: counted and projected votes (table)',
    calls: 'Constituencies per call state (table)',
    anomalies: 'Open anomalies, oldest first (table)',
    anomaly_counts: 'Open anomalies counted (table)'
  };

  function options(values, labels) {
    return values.map(function (v) { return { label: (labels && labels[v]) || v, value: v }; });
  }

  // Streams: a table is replaced by each message; a time series grows, up to the panel's
  // time range (Grafana's own rule) and a generous row bound.
  function streamOptions(request, frame) {
    var custom = (frame && frame.meta && frame.meta.custom) || {};
    var opts = { maxLength: Math.max(request.maxDataPoints || 0, 20000), action: 'append' };
    if (custom.live === 'replace') {
      opts.action = 'replace';
      opts.maxLength = 1000000;
    } else if (request.rangeRaw && request.rangeRaw.to === 'now') {
      opts.maxDelta = request.range.to.valueOf() - request.range.from.valueOf();
    }
    return opts;
  }

  class VotestreamDataSource extends runtime.DataSourceWithBackend {
    constructor(settings) {
      super(settings);
      this.streamOptionsProvider = streamOptions;
    }
    getDefaultQuery() { return { queryType: 'parties' }; }
    filterQuery(q) { return !q.hide && CONTRACT.queryTypes.indexOf(q.queryType) >= 0; }
    applyTemplateVariables(q, scopedVars) {
      var out = Object.assign({}, q);
      ['constituency', 'code', 'severity', 'call'].forEach(function (k) {
        if (out[k]) { out[k] = runtime.getTemplateSrv().replace(out[k], scopedVars); }
      });
      if (out.constituency === '' || out.constituency === 'All') { delete out.constituency; }
      return out;
    }
  }

  // Keeps only the parameters the query type takes, so the back end never refuses one.
  function clean(q) {
    var takes = CONTRACT.params[q.queryType] || [];
    var out = Object.assign({}, q);
    ['top', 'groupBy', 'code', 'severity', 'constituency', 'call'].forEach(function (k) {
      if (takes.indexOf(k) < 0 || out[k] === '' || out[k] === 0 || out[k] == null) { delete out[k]; }
    });
    return out;
  }

  function field(label, tooltip, input) {
    return h(ui.InlineField, { label: label, labelWidth: 16, tooltip: tooltip }, input);
  }

  function choice(q, key, values, change, placeholder) {
    return h(ui.Select, {
      width: 24, isClearable: true, placeholder: placeholder || 'any',
      options: options(values), value: q[key] || null,
      onChange: function (v) { var n = Object.assign({}, q); n[key] = v ? v.value : ''; change(n); }
    });
  }

  function QueryEditor(props) {
    var q = props.query;
    var change = function (n) { props.onChange(clean(n)); props.onRunQuery(); };
    var takes = CONTRACT.params[q.queryType] || [];
    var rows = [field('Query', 'What the panel shows; every query type is live.', h(ui.Select, {
      width: 48, options: options(CONTRACT.queryTypes, LABELS), value: q.queryType || null,
      onChange: function (v) { change(Object.assign({}, q, { queryType: v.value })); }
    }))];
    if (takes.indexOf('top') >= 0) {
      rows.push(field('Top parties', 'Only the parties with the largest latest share; empty = all.', h(ui.Input, {
        width: 12, type: 'number', min: 0, defaultValue: q.top || '',
        onBlur: function (e) { change(Object.assign({}, q, { top: parseInt(e.currentTarget.value, 10) || 0 })); }
      })));
    }
    if (takes.indexOf('groupBy') >= 0) {
      rows.push(field('Group by', 'province and region need the reference data folder setting.',
        choice(q, 'groupBy', CONTRACT.groupBys, change, 'code')));
    }
    if (takes.indexOf('code') >= 0) { rows.push(field('Code', 'One anomaly code.', choice(q, 'code', CONTRACT.codes, change))); }
    if (takes.indexOf('severity') >= 0) { rows.push(field('Severity', null, choice(q, 'severity', CONTRACT.severities, change))); }
    if (takes.indexOf('call') >= 0) { rows.push(field('Call', null, choice(q, 'call', CONTRACT.calls, change))); }
    if (takes.indexOf('constituency') >= 0) {
      rows.push(field('Constituency', 'A constituency id, or a dashboard variable such as $constituency.', h(ui.Input, {
        width: 24, defaultValue: q.constituency || '', placeholder: 'any',
        onBlur: function (e) { change(Object.assign({}, q, { constituency: e.currentTarget.value.trim() })); }
      })));
    }
    return h('div', null, h.apply(null, [ui.InlineFieldRow, null].concat(rows))); // children, not a list: no keys needed
  }

  function ConfigEditor(props) {
    var o = props.options;
    var jd = o.jsonData || {};
    var setJSON = function (key, value) {
      var n = Object.assign({}, jd); n[key] = value;
      props.onOptionsChange(Object.assign({}, o, { jsonData: n }));
    };
    var text = function (key, label, tooltip, placeholder) {
      return field(label, tooltip, h(ui.Input, {
        width: 48, value: jd[key] == null ? '' : String(jd[key]), placeholder: placeholder,
        onChange: function (e) { setJSON(key, e.currentTarget.value); }
      }));
    };
    var number = function (key, label, tooltip, placeholder) {
      return field(label, tooltip, h(ui.Input, {
        width: 16, type: 'number', min: 1, value: jd[key] || '', placeholder: placeholder,
        onChange: function (e) { setJSON(key, parseInt(e.currentTarget.value, 10) || 0); }
      }));
    };
    var secure = o.secureJsonFields || {};
    return h('div', null,
      text('brokers', 'Kafka brokers', 'host:port, comma-separated.', 'kafka:9092'),
      text('topicPrefix', 'Topic prefix', 'Put before every topic name; empty in production.', ''),
      text('referenceDir', 'Reference data', 'A folder of the reference CSV files on the Grafana host, for Thai names, provinces and constituency seats. Optional.', '/var/lib/votestream/reference'),
      number('maxHistory', 'Estimates kept', 'Estimates kept for the time series.', '20000'),
      number('anomalyRefreshSeconds', 'Anomaly refresh (s)', 'How often open anomalies are sent again so their ages move.', '30'),
      field('TLS', 'Dial the brokers with TLS (system roots).', h(ui.InlineSwitch, {
        value: !!jd.tls, onChange: function (e) { setJSON('tls', e.currentTarget.checked); }
      })),
      field('SASL', 'Empty for none.', h(ui.Select, {
        width: 24, isClearable: true, placeholder: 'none', options: options(['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512']),
        value: jd.saslMechanism || null, onChange: function (v) { setJSON('saslMechanism', v ? v.value : ''); }
      })),
      text('saslUser', 'SASL user', null, ''),
      field('SASL password', 'Stored encrypted by Grafana; never sent to browsers.', h(ui.SecretInput, {
        width: 48, isConfigured: !!secure.saslPassword,
        value: (o.secureJsonData && o.secureJsonData.saslPassword) || '',
        onReset: function () {
          props.onOptionsChange(Object.assign({}, o, {
            secureJsonFields: Object.assign({}, secure, { saslPassword: false }),
            secureJsonData: Object.assign({}, o.secureJsonData, { saslPassword: '' })
          }));
        },
        onChange: function (e) {
          props.onOptionsChange(Object.assign({}, o, {
            secureJsonData: Object.assign({}, o.secureJsonData, { saslPassword: e.currentTarget.value })
          }));
        }
      }))
    );
  }

  return {
    plugin: new data.DataSourcePlugin(VotestreamDataSource).setConfigEditor(ConfigEditor).setQueryEditor(QueryEditor),
    // for the plugin's own tests (node, with stand-ins for Grafana's packages)
    _test: { clean: clean, streamOptions: streamOptions, CONTRACT: CONTRACT }
  };
});
