// The viewer of the HTML export (experiments/end_to_end/visualise/export.py): the same views
// and graph component as the Dash app, without a server. Every string from a trace is set as
// text (textContent), never as markup.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("itp-data").textContent);
  const STATUSES = ["proved", "failed", "timeout", "error"];
  const SORTS = {
    time: (a, b) => b.total_s - a.total_s,
    size: (a, b) => b.nodes - a.nodes,
    theorem: (a, b) => a.theorem_id.localeCompare(b.theorem_id) || a.iteration - b.iteration,
    iteration: (a, b) => a.iteration - b.iteration || a.theorem_id.localeCompare(b.theorem_id),
  };
  const COLUMNS = [["iteration", "iter"], ["theorem_id", "theorem"], ["status", "status"],
    ["total_s", "time (s)"], ["nodes", "nodes"], ["expansions", "expansions"],
    ["proof_steps", "proof steps"]];
  const HINT = "Click a goal or a tactic in the tree to see its details.";
  let current = null;
  let graph = null;

  function el(tag, props, children) {
    const node = document.createElement(tag);
    Object.assign(node, props || {});
    for (const child of children || []) {
      node.append(child);
    }
    return node;
  }

  function rowsTable(rows, id) {
    const body = el("tbody", {}, rows.map(([label, value]) =>
      el("tr", {}, [el("th", {textContent: label}), el("td", {}, [el("pre", {textContent: value})])])));
    return el("table", {className: "rows", id: id || ""}, [body]);
  }

  function show(id, content) {
    const target = document.getElementById(id);
    target.replaceChildren(...(typeof content === "string" ? [content] : [content]));
  }

  function onTap(props) {
    const clicked = props.tapEdgeData || props.tapNodeData;
    if (!clicked || !current) return;
    const rows = current.details[clicked.edge || clicked.id];
    show("details", rows ? rowsTable(rows, "details-table") : HINT);
  }

  function drawGraph(stylesheet) {
    const props = {
      id: "tree-cy",
      elements: current.elements,
      layout: current.layout,
      stylesheet,
      style: {width: "100%", height: "560px"},
      setProps: onTap,
    };
    graph.render(React.createElement(dash_cytoscape.Cytoscape, props));
  }

  function showReplay(position) {
    // view.py precomputes every position: its title, rows and the style rules that show it.
    const at = current.replay[Math.max(0, Math.min(position, current.replay.length - 1))];
    show("replay-title", at.title);
    show("replay-rows", rowsTable(at.rows, "replay-table"));
    drawGraph(current.stylesheet.concat(at.styles));
  }

  function selectAttempt(key) {
    current = data.views[key];
    for (const tr of document.querySelectorAll("#attempts tbody tr")) {
      tr.classList.toggle("selected", tr.dataset.key === key);
    }
    show("attempt-summary", rowsTable(current.summary, "summary-table"));
    if (graph) graph.unmount();  // a fresh component lays the new tree out from scratch
    graph = ReactDOM.createRoot(document.getElementById("tree"));
    const slider = document.getElementById("replay");
    slider.max = String(current.replay.length - 1);
    slider.value = slider.max;
    show("details", HINT);
    const proof = current.proof.length
      ? el("ol", {className: "proof-steps"}, current.proof.map((step) => el("li", {}, [
        el("pre", {textContent: step.goal}), "by ", el("code", {textContent: step.tactic})])))
      : `No proof (${current.status}).`;
    show("proof", proof);
    showReplay(current.replay.length - 1);
  }

  function filtered() {
    const statuses = STATUSES.filter((s) => document.getElementById(`filter-status-${s}`).checked);
    const iterations = Array.from(document.getElementById("filter-iteration").selectedOptions)
      .map((o) => Number(o.value));
    const name = document.getElementById("filter-name").value.trim().toLowerCase();
    const sort = document.querySelector("input[name=sort]:checked").value;
    return data.entries.filter((e) => (!statuses.length || statuses.includes(e.status))
      && (!iterations.length || iterations.includes(e.iteration))
      && e.theorem_id.toLowerCase().includes(name)).sort(SORTS[sort]);
  }

  function drawTable() {
    const rows = filtered().map((e) => {
      const tr = el("tr", {className: e.status}, COLUMNS.map(([c]) =>
        el("td", {textContent: String(e[c])})));
      tr.dataset.key = e.id;
      if (current && current.key === e.id) tr.classList.add("selected");
      tr.addEventListener("click", () => selectAttempt(e.id));
      return tr;
    });
    document.querySelector("#attempts tbody").replaceChildren(...rows);
  }

  function filters() {
    const iterations = [...new Set(data.entries.map((e) => e.iteration))].sort((a, b) => a - b);
    const statusBoxes = STATUSES.map((s) => el("label", {}, [
      el("input", {type: "checkbox", id: `filter-status-${s}`, onchange: drawTable}), ` ${s} `]));
    const sorts = Object.keys(SORTS).map((s) => el("label", {}, [
      el("input", {type: "radio", name: "sort", value: s, checked: s === "iteration",
        onchange: drawTable}), ` ${s} `]));
    return el("div", {className: "filters"}, [
      el("label", {textContent: "status"}), el("div", {}, statusBoxes),
      el("label", {textContent: "iteration"}),
      el("select", {id: "filter-iteration", multiple: true, onchange: drawTable},
        iterations.map((i) => el("option", {value: String(i), textContent: String(i)}))),
      el("label", {textContent: "theorem name"}),
      el("input", {id: "filter-name", type: "text", placeholder: "contains…", oninput: drawTable}),
      el("label", {textContent: "sort by"}), el("div", {}, sorts),
    ]);
  }

  function page() {
    const head = el("thead", {}, [el("tr", {}, COLUMNS.map(([, n]) => el("th", {textContent: n})))]);
    const slider = el("input", {type: "range", id: "replay", min: "0", max: "0", step: "1",
      value: "0", style: "width: 100%"});
    slider.addEventListener("input", () => current && showReplay(Number(slider.value)));
    return el("div", {}, [
      el("h2", {textContent: `Proof attempts: ${data.source}`}),
      el("div", {id: "notices"}, data.notices.map((n) => el("div", {className: "notice", textContent: n}))),
      el("div", {className: "columns"}, [
        el("div", {className: "sidebar"}, [filters(),
          el("table", {className: "attempts", id: "attempts"}, [head, el("tbody")])]),
        el("div", {className: "main"}, [
          el("div", {id: "attempt-summary", textContent: "Select an attempt."}),
          el("div", {id: "tree", className: "tree", style: "height: 560px"}),
          el("div", {className: "replay"}, [el("div", {id: "replay-title", className: "replay-title"}),
            slider, el("div", {id: "replay-rows"})]),
          el("h4", {textContent: "Details"}), el("div", {id: "details", textContent: HINT}),
          el("h4", {textContent: "Proof"}), el("div", {id: "proof"}),
        ]),
      ]),
    ]);
  }

  document.getElementById("app").append(page());
  drawTable();
  if (data.entries.length === 1) selectAttempt(data.entries[0].id);
})();
