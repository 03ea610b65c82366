// Live run page: follows the run's journal through Server-Sent Events.
(function () {
  const out = document.getElementById("output");
  if (!out || out.dataset.final === "yes") return;
  const live = document.getElementById("live");
  const source = new EventSource(`/runs/${out.dataset.run}/events?after=${out.dataset.after}`);
  source.onopen = () => { live.hidden = false; };
  source.onmessage = (message) => {
    const e = JSON.parse(message.data);
    if (e.event === "step_output") {
      out.append(`${e.step}${e.host ? " [" + e.host + "]" : ""}: ${e.line}\n`);
      out.scrollTop = out.scrollHeight;
    } else if (e.event === "step_started" || e.event === "step_finished") {
      let cell = document.querySelector(`#step-${CSS.escape(e.step)} .status`);
      if (!cell) {
        const row = document.createElement("tr");
        row.id = `step-${e.step}`;
        for (const text of [e.phase || "", e.step, "", "", "", ""]) {
          const td = document.createElement("td");
          td.textContent = text;
          row.append(td);
        }
        row.children[2].className = "status";
        document.querySelector("table.steps tbody").append(row);
        cell = row.children[2];
      }
      {
        const badge = document.createElement("span");
        badge.className = `badge ${e.status || "running"}`;
        badge.textContent = e.status || "running";
        cell.replaceChildren(badge);
      }
    } else if (e.event === "resumed") {
      document.getElementById("run-status").textContent = "running";
    } else if (e.event === "paused" || e.event === "run_finished") {
      source.close();
      setTimeout(() => window.location.replace(`/runs/${out.dataset.run}`), 300);
    }
  };
  source.onerror = () => { live.hidden = true; };
})();
