// leadgate web UI: small progressive enhancements. Every page works without this file.
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  // Live pages: new and changed leads arrive over one Server-Sent Events stream and are put in place.
  var live = document.getElementById("live");
  if (live && live.dataset.liveUrl && window.EventSource) {
    startLive(live);
  }
  setUpNotifications();
  document.querySelectorAll("[data-print]").forEach(function (b) {
    b.addEventListener("click", function () { window.print(); });
  });
  document.querySelectorAll("form[data-confirm]").forEach(function (f) {
    f.addEventListener("submit", function (e) {
      if (!window.confirm(f.dataset.confirm)) { e.preventDefault(); }
    });
  });
  document.querySelectorAll("[data-autosubmit]").forEach(function (input) {
    input.addEventListener("change", function () { input.form.submit(); });
  });
  document.querySelectorAll("[data-copy]").forEach(function (b) {
    b.addEventListener("click", function () {
      var target = document.getElementById(b.dataset.copy);
      if (target && navigator.clipboard) {
        navigator.clipboard.writeText(target.textContent.trim()).then(function () { b.textContent = "Скопировано"; });
      }
    });
  });
});

// An element with a class and a text; a live lead's values are always set as text, never parsed as markup.
function el(tag, className, text) {
  var e = document.createElement(tag);
  if (className) { e.className = className; }
  if (text !== undefined) { e.textContent = text; }
  return e;
}

function leadUrl(lead) { return "/leads/" + lead.id; }

// A table cell with the label the phone layout shows beside it.
function labelled(label, child) {
  var td = el("td");
  td.dataset.label = label;
  td.append(child);
  return td;
}

// An inbox row built from a live lead's values, as templates/lead_row.html writes it.
function leadRow(lead) {
  var row = el("tr", "lead-row" + (lead.status_key === "new" ? " is-new" : "") +
    (lead.overdue ? " has-overdue-follow-up" : ""));
  row.dataset.leadId = lead.id;
  row.dataset.calendarId = lead.calendar_id;
  var pick = el("td", "pick");
  var box = el("input");
  box.type = "checkbox";
  box.name = "lead";
  box.value = lead.id;
  box.setAttribute("form", "bulk-assign");
  box.setAttribute("aria-label", "Отметить заявку " + lead.id);
  pick.append(box);
  var status = el("td", "status");
  status.append(el("span", "badge status-" + lead.status_key, lead.status));
  var main = el("td");
  var link = el("a", "lead-link", lead.title);
  link.href = leadUrl(lead);
  main.append(link);
  if (lead.possible_duplicate_of) {
    var duplicate = el("span", "badge warn possible-duplicate", "возможный дубль №" + lead.possible_duplicate_of);
    duplicate.title = "Похоже на заявку №" + lead.possible_duplicate_of + " за сутки до этой";
    main.append(" ", duplicate);
  }
  if (lead.overdue) {
    var mark = el("a", "badge overdue-mark", "перезвонить");
    mark.href = leadUrl(lead) + "#follow-ups";
    mark.title = "Просрочен запланированный перезвон";
    main.append(" ", mark);
  }
  main.append(el("div", "muted small", lead.kind + (lead.number ? " · № " + lead.number : "")));
  var phone = lead.phone;
  if (lead.phone_href && /^tel:/.test(lead.phone_href)) {
    phone = el("a", "phone-link", lead.phone);
    phone.href = lead.phone_href;
  }
  var calendar = labelled("Календарь", el("span", "dot cal-" + lead.calendar_id));
  calendar.append(lead.calendar);
  var phoneCell = labelled("Телефон", phone);
  phoneCell.className = "nowrap";
  row.append(pick, el("td", "nowrap when", lead.when), status, main, labelled("Контакт", lead.who), phoneCell,
    calendar, labelled("Ответственный", lead.assignee));
  return row;
}

// A calendar entry built from a live lead's values, as templates/calendar_event.html writes it.
function calendarEntry(lead, month) {
  var entry = el("a", "event cal-" + lead.calendar_id + " status-" + lead.status_key +
    (lead.status_key === "new" ? " is-new" : ""),
    lead.time + " " + lead.title + (!month && lead.who ? " — " + lead.who : ""));
  entry.href = leadUrl(lead);
  entry.dataset.leadId = lead.id;
  entry.title = lead.when + " · " + lead.title + " · " + lead.who + " · " + lead.calendar;
  return entry;
}

function startLive(live) {
  var page = live.dataset.livePage;
  var source = new EventSource(live.dataset.liveUrl);
  live.dataset.state = "connecting";
  source.addEventListener("open", function () { live.dataset.state = "open"; });
  source.addEventListener("error", function () { live.dataset.state = "reconnecting"; });
  source.addEventListener("reload", function () {
    source.close();
    window.location.reload();
  });
  source.addEventListener("lead", function (e) {
    var lead;
    try { lead = JSON.parse(e.data); } catch (err) { return; }
    if (page === "inbox") { inboxLead(live, lead); } else { calendarLead(lead); }
    live.dataset.lastEvent = e.lastEventId;
    if (lead.change === "new") { notifyLead(lead); }
  });
  source.addEventListener("follow_up", function (e) {
    var due;
    try { due = JSON.parse(e.data); } catch (err) { return; }
    followUpDue(due);
  });
}

// One of the viewer's follow-ups fell due: a notice on the page, and a desktop notification when switched on.
function followUpDue(due) {
  var list = document.getElementById("follow-ups-due");
  if (!list) {
    list = document.createElement("div");
    list.id = "follow-ups-due";
    list.className = "follow-ups-due";
    list.setAttribute("role", "status");
    var main = document.querySelector("main") || document.body;
    main.insertBefore(list, main.firstChild);
  }
  var notice = document.createElement("a");
  notice.className = "follow-up-due";
  notice.dataset.followUpId = String(due.id);
  notice.href = due.url;
  notice.textContent = "⏰ Пора перезвонить: " + due.when + " · " + due.title + (due.note ? " — " + due.note : "");
  list.appendChild(notice);
  if (!notificationsOn()) { return; }
  var n = new Notification("Пора перезвонить: " + due.title, { body: due.note || due.when, tag: "follow-up-" + due.id });
  n.addEventListener("click", function () {
    window.focus();
    window.location.assign(due.url);
    n.close();
  });
}

function inboxLead(live, lead) {
  var table = document.getElementById("leads");
  if (!table) { return; }
  var body = table.tBodies[0];
  if (lead.gone) {
    var gone = body.querySelector('tr[data-lead-id="' + lead.id + '"]');
    if (gone) { gone.remove(); }
    return;
  }
  var row = leadRow(lead);
  var old = body.querySelector('tr[data-lead-id="' + lead.id + '"]');
  if (old) {
    // A row the manager has ticked for assigning stays ticked when its lead changes.
    var ticked = old.querySelector('input[name="lead"]');
    if (ticked && ticked.checked) { row.querySelector('input[name="lead"]').checked = true; }
    old.replaceWith(row);
  } else if (lead.change === "new" && live.hasAttribute("data-live-insert")) {
    // In the inbox's order, newest first: leads committed at the same moment (two groups written at once) may
    // arrive a little out of it. A new lead goes after the last new row with a larger id, else on top.
    var newer = null;
    if (lead.status_key === "new") {
      body.querySelectorAll("tr.lead-row.is-new").forEach(function (r) {
        if (Number(r.dataset.leadId) > lead.id) { newer = r; }
      });
    }
    if (newer) { newer.after(row); } else { body.insertBefore(row, body.firstElementChild); }
    table.hidden = false;
    var empty = document.getElementById("no-leads");
    if (empty) { empty.hidden = true; }
    var count = document.getElementById("new-count");
    // Past the cap the page says "1000+", and one more keeps it so.
    if (count && !/\+$/.test(count.textContent)) { count.textContent = String((parseInt(count.textContent, 10) || 0) + 1); }
  } else {
    return;
  }
  row.classList.add("live-arrived");
}

function calendarLead(lead) {
  var grid = document.getElementById("calendar-grid");
  if (!grid) { return; }
  var old = grid.querySelector('a.event[data-lead-id="' + lead.id + '"]');
  if (old) { old.remove(); }
  if (lead.gone) { return; }
  var day = grid.querySelector('.day[data-date="' + lead.date + '"]');
  if (!day) { return; }
  var entry = calendarEntry(lead, grid.classList.contains("month"));
  var more = day.querySelector(".more");
  day.insertBefore(entry, more);
  entry.classList.add("live-arrived");
}

// Desktop notifications of new leads, switched on per browser by the manager (the browser asks once).
var NOTIFY_KEY = "leadgate.notifications";

function notificationsOn() {
  return window.Notification && Notification.permission === "granted" &&
    window.localStorage && localStorage.getItem(NOTIFY_KEY) === "on";
}

function setUpNotifications() {
  var toggle = document.getElementById("notify-toggle");
  if (!toggle || toggle.dataset.ready || !window.Notification || !window.localStorage) { return; }
  toggle.dataset.ready = "1";
  var show = function () {
    var on = notificationsOn();
    toggle.textContent = on ? toggle.dataset.on : toggle.dataset.off;
    toggle.setAttribute("aria-pressed", on ? "true" : "false");
  };
  toggle.hidden = false;
  show();
  toggle.addEventListener("click", function () {
    if (notificationsOn()) {
      localStorage.setItem(NOTIFY_KEY, "off");
      show();
      return;
    }
    Notification.requestPermission().then(function (permission) {
      localStorage.setItem(NOTIFY_KEY, permission === "granted" ? "on" : "off");
      show();
    });
  });
}

function notifyLead(lead) {
  if (!notificationsOn()) { return; }
  var body = lead.phone ? lead.kind + " · " + lead.phone : lead.kind;
  var n = new Notification(lead.title, { body: body, tag: "lead-" + lead.id });
  n.addEventListener("click", function () {
    window.focus();
    window.location.assign(leadUrl(lead));
    n.close();
  });
}
