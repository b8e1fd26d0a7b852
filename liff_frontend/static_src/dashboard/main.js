// The staff dashboard's charts (admin/analytics/dashboard.html): Chart.js bundled from npm, no CDN.
// Reads the figures from <script id="dashboard-data" type="application/json"> and draws every
// <canvas data-chart="…">. Each canvas gets data-rendered="1" once drawn (the browser test checks it).
import Chart from 'chart.js/auto';

const PALETTE = ['#06c755', '#1e88e5', '#f4511e', '#8e24aa', '#fdd835', '#00897b', '#6d4c41', '#e91e63',
  '#3949ab', '#7cb342', '#757575'];

function colors(n) {
  return Array.from({ length: n }, (_, i) => PALETTE[i % PALETTE.length]);
}

function configs(data) {
  const t = data.labels || {};
  const pie = (rows, type) => ({
    type,
    data: {
      labels: rows.map((row) => row.label),
      datasets: [{ data: rows.map((row) => row.value), backgroundColor: rows.map((row, i) => row.color || colors(rows.length)[i]) }],
    },
  });
  const bars = (rows, label) => ({
    type: 'bar',
    data: { labels: rows.map((row) => row.label), datasets: [{ label, data: rows.map((row) => row.value), backgroundColor: colors(rows.length) }] },
    options: { plugins: { legend: { display: false } }, indexAxis: 'y' },
  });
  return {
    members: {
      type: 'bar',
      data: {
        labels: data.members.labels,
        datasets: [
          { type: 'line', label: t.total, data: data.members.total, borderColor: PALETTE[1], yAxisID: 'total', pointRadius: 0 },
          { type: 'bar', label: t.new, data: data.members.new, backgroundColor: PALETTE[0], yAxisID: 'new' },
        ],
      },
      options: { scales: { new: { position: 'left', beginAtZero: true }, total: { position: 'right' } } },
    },
    points: {
      type: 'bar',
      data: {
        labels: data.points.labels,
        datasets: [
          { label: t.issued, data: data.points.issued, backgroundColor: PALETTE[0] },
          { label: t.redeemed, data: data.points.redeemed, backgroundColor: PALETTE[1] },
          { label: t.expired, data: data.points.expired, backgroundColor: PALETTE[2] },
        ],
      },
    },
    tiers: pie(data.tiers, 'doughnut'),
    rfm: data.rfm ? bars(data.rfm, t.members) : null,
    channels: pie(data.channels, 'pie'),
    campaigns: bars(data.campaigns, t.members),
  };
}

function render() {
  const source = document.getElementById('dashboard-data');
  if (!source) return;
  const all = configs(JSON.parse(source.textContent));
  document.querySelectorAll('canvas[data-chart]').forEach((canvas) => {
    const config = all[canvas.dataset.chart];
    if (!config) return;
    config.options = { responsive: true, maintainAspectRatio: false, animation: false, ...(config.options || {}) };
    // eslint-disable-next-line no-new
    new Chart(canvas, config);
    canvas.dataset.rendered = '1';
  });
  document.body.dataset.chartsRendered = '1';
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', render);
else render();
