/* Segment condition builder (admin). Plain JS, no dependencies, no network but this site.
 * Edits the definition JSON in #id_definition and posts each draft to the count endpoint
 * (debounced), showing the live audience count, a readable summary and a sample of members. */
(function () {
  "use strict";
  var root = document.getElementById("segment-builder");
  var textarea = document.getElementById("id_definition");
  var schemaNode = document.getElementById("segment-builder-schema");
  if (!root || !textarea || !schemaNode) return;
  var schema = JSON.parse(schemaNode.textContent);
  var types = {};
  schema.forEach(function (t) { types[t.type] = t; });
  var text = root.dataset;
  var tree;
  try { tree = JSON.parse(textarea.value || "{}"); } catch (e) { tree = {}; }
  if (!tree || typeof tree !== "object") tree = {};
  tree.op = tree.op || "and";
  tree.conditions = tree.conditions || [];
  textarea.closest(".form-row") ? (textarea.closest(".form-row").style.display = "none") : (textarea.style.display = "none");

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (k.indexOf("data-") === 0 || k === "type" || k === "class" || k === "value" || k === "name") node.setAttribute(k, attrs[k]);
      else node[k] = attrs[k];
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }

  function defaults(type) {
    var condition = { type: type };
    (types[type].params || []).forEach(function (p) {
      if (p.kind === "select" && p.options.length) condition[p.name] = String(p.options[0][0]);
      if (p.kind === "multi") condition[p.name] = [];
    });
    return condition;
  }

  function paramInput(condition, param, path) {
    var id = "sb-" + path.replace(/\./g, "-") + "-" + param.name;
    var value = condition[param.name];
    var input;
    if (param.kind === "multi") {
      var chosen = (value || []).map(String);
      input = el("span", { "class": "sb-options", "data-testid": id });
      param.options.forEach(function (option) {
        var box = el("input", { type: "checkbox", value: String(option[0]) });
        box.checked = chosen.indexOf(String(option[0])) >= 0;
        box.addEventListener("change", function () {
          var now = (condition[param.name] || []).map(String).filter(function (v) { return v !== box.value; });
          if (box.checked) now.push(box.value);
          condition[param.name] = now;
          changed();
        });
        input.appendChild(el("label", {}, [box, document.createTextNode(" " + option[1])]));
      });
    } else if (param.kind === "select") {
      input = el("select", { id: id, "data-testid": id });
      param.options.forEach(function (option) {
        var node = el("option", { value: String(option[0]), text: option[1] });
        if (String(value) === String(option[0])) node.selected = true;
        input.appendChild(node);
      });
      input.addEventListener("change", function () { condition[param.name] = input.value; changed(); });
    } else {
      var kind = param.kind === "date" ? "date" : "text";
      input = el("input", { type: kind, id: id, "data-testid": id, size: param.kind === "list" ? 30 : 8 });
      input.value = Array.isArray(value) ? value.join(", ") : (value === null || value === undefined ? "" : String(value));
      input.addEventListener("input", function () {
        if (input.value === "") delete condition[param.name]; else condition[param.name] = input.value;
        changed();
      });
    }
    return el("span", { "class": "sb-param" }, [el("label", { "for": id, text: param.label, htmlFor: id }), input]);
  }

  function renderCondition(condition, parent, index, path) {
    var typeSelect = el("select", { "data-testid": "sb-" + path.replace(/\./g, "-") + "-type" });
    schema.forEach(function (t) {
      var option = el("option", { value: t.type, text: t.label });
      if (t.type === condition.type) option.selected = true;
      typeSelect.appendChild(option);
    });
    typeSelect.addEventListener("change", function () { parent.conditions[index] = defaults(typeSelect.value); render(); changed(); });
    var remove = el("button", { type: "button", text: text.textRemove, "class": "button" });
    remove.addEventListener("click", function () { parent.conditions.splice(index, 1); render(); changed(); });
    var row = el("div", { "class": "sb-condition", "data-path": path, "data-testid": "sb-condition" }, [typeSelect]);
    ((types[condition.type] || {}).params || []).forEach(function (p) { row.appendChild(paramInput(condition, p, path)); });
    row.appendChild(remove);
    row.appendChild(el("div", { "class": "sb-error", "data-error-for": path }));
    return row;
  }

  function renderGroup(group, path, depth, parent, index) {
    var op = el("select", { "data-testid": "sb-" + (path || "root") + "-op" });
    [["and", text.textAnd], ["or", text.textOr]].forEach(function (o) {
      var option = el("option", { value: o[0], text: o[1] });
      if (group.op === o[0]) option.selected = true;
      op.appendChild(option);
    });
    op.addEventListener("change", function () { group.op = op.value; changed(); });
    var box = el("div", { "class": "sb-group", "data-path": path }, [op]);
    group.conditions.forEach(function (child, i) {
      var childPath = (path ? path + "." : "") + "conditions." + i;
      box.appendChild(child.type ? renderCondition(child, group, i, childPath)
        : renderGroup(child, childPath, depth + 1, group, i));
    });
    var add = el("button", { type: "button", text: text.textAdd, "class": "button", "data-testid": "sb-add" });
    add.addEventListener("click", function () { group.conditions.push(defaults(schema[1] ? schema[1].type : schema[0].type)); render(); changed(); });
    box.appendChild(add);
    if (depth < 2) {
      var addGroup = el("button", { type: "button", text: text.textAddGroup, "class": "button" });
      addGroup.addEventListener("click", function () {
        group.conditions.push({ op: "or", conditions: [defaults(schema[0].type)] }); render(); changed();
      });
      box.appendChild(addGroup);
    }
    if (parent) {
      var remove = el("button", { type: "button", text: text.textRemove, "class": "button" });
      remove.addEventListener("click", function () { parent.conditions.splice(index, 1); render(); changed(); });
      box.appendChild(remove);
    }
    box.appendChild(el("div", { "class": "sb-error", "data-error-for": path }));
    return box;
  }

  function render() {
    root.innerHTML = "";
    root.appendChild(renderGroup(tree, "", 0, null, 0));
  }

  var timer = null;
  var sequence = 0;
  var count = document.querySelector("[data-testid=segment-count]");
  var summary = document.querySelector("[data-testid=segment-summary]");
  var errors = document.querySelector("[data-testid=segment-errors]");
  var sample = document.querySelector("[data-testid=segment-sample]");

  function changed() {
    textarea.value = JSON.stringify(tree);
    clearTimeout(timer);
    timer = setTimeout(countNow, 300);
  }

  function showErrors(fieldErrors) {
    root.querySelectorAll(".sb-error").forEach(function (node) { node.textContent = ""; });
    var lines = [];
    Object.keys(fieldErrors || {}).forEach(function (field) {
      var message = fieldErrors[field].join(" ");
      lines.push(field + ": " + message);
      var owner = field.replace(/\.[a-z_]+$/, "");
      var target = root.querySelector('[data-error-for="' + owner + '"]');
      if (target) target.textContent = message;
    });
    errors.textContent = lines.length ? text.textInvalid : "";
  }

  function countNow() {
    var mine = ++sequence;
    count.textContent = text.textCounting;
    var csrf = document.querySelector("input[name=csrfmiddlewaretoken]");
    fetch(root.dataset.countUrl, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf ? csrf.value : "" },
      body: JSON.stringify({ brand: Number(root.dataset.brand), definition: tree })
    }).then(function (response) {
      return response.json().then(function (body) { return { ok: response.ok, body: body }; });
    }).then(function (result) {
      if (mine !== sequence) return;  // a newer draft is being counted
      if (!result.ok) { count.textContent = "–"; showErrors(result.body.errors || {}); return; }
      showErrors({});
      count.textContent = result.body.count.toLocaleString("en-US");
      summary.textContent = result.body.summary;
      sample.innerHTML = "";
      result.body.sample.forEach(function (member) {
        sample.appendChild(el("li", {}, [el("a", { href: member.url, text: member.name + " (" + member.code + ")" })]));
      });
    }).catch(function () { if (mine === sequence) count.textContent = "–"; });
  }

  render();
  textarea.value = JSON.stringify(tree);
  countNow();
})();
