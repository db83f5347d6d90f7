// Progressive enhancement: draws each chart from the figures its page carries (the same
// figures as the table under it). Without script, the tables still show everything.
(function () {
  if (!window.echarts) return;
  var palette = { green: "#2e7d32", yellow: "#f9a825", red: "#c62828" };
  document.querySelectorAll("script.chart-data").forEach(function (data) {
    var node = document.getElementById(data.dataset.target);
    if (!node) return;
    var chart = JSON.parse(data.textContent);
    window.echarts.init(node).setOption({
      tooltip: { trigger: "axis" },
      legend: {},
      xAxis: { type: "category", data: chart.categories },
      yAxis: { type: "value" },
      series: chart.series.map(function (s) {
        var series = { name: s.name, type: chart.kind, data: s.data.map(Number) };
        if (chart.stacked) series.stack = "total";
        if (palette[s.key]) series.itemStyle = { color: palette[s.key] };
        return series;
      }),
    });
  });
})();
