using System.Text;

namespace MmapTools.Interactive;

/// <summary>
/// A bar chart of measurements, one bar each, in the order added: what the notebooks use to compare
/// timings (read vs mmap, sync vs async). Values share one unit.
/// </summary>
public sealed class TimingChart
{
    private readonly List<Entry> _entries = [];

    public TimingChart(string title, string unit = "ms")
    {
        ArgumentException.ThrowIfNullOrEmpty(title);
        Title = title;
        Unit = unit ?? "";
    }

    public readonly record struct Entry(string Label, double Value, string? Note);

    public string Title { get; }

    public string Unit { get; }

    public IReadOnlyList<Entry> Entries => _entries;

    /// <summary>The clock <see cref="Time"/> reads; a test gives one it controls.</summary>
    internal TimeProvider Clock { get; init; } = TimeProvider.System;

    /// <summary>Adds a bar. Returns nothing, so that a PowerShell cell does not print the chart at every call.</summary>
    public void Add(string label, double value, string? note = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(label);
        if (double.IsNaN(value) || value < 0) throw new ArgumentOutOfRangeException(nameof(value), value, "A bar's value is a number of zero or more.");
        _entries.Add(new Entry(label, value, note));
    }

    /// <summary>Adds a duration in this chart's unit (ms, µs/us or s).</summary>
    public void Add(string label, TimeSpan elapsed, string? note = null) => Add(label, InUnit(elapsed), note);

    /// <summary>
    /// Runs <paramref name="action"/> <paramref name="repeat"/> times, adds the median time as a bar
    /// and returns it (in this chart's unit).
    /// </summary>
    public double Time(string label, Action action, int repeat = 3, string? note = null)
    {
        ArgumentNullException.ThrowIfNull(action);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(repeat);
        var times = new double[repeat];
        for (int i = 0; i < repeat; i++)
        {
            long started = Clock.GetTimestamp();
            action();
            times[i] = InUnit(Clock.GetElapsedTime(started));
        }
        Array.Sort(times);
        double median = repeat % 2 == 1 ? times[repeat / 2] : (times[repeat / 2 - 1] + times[repeat / 2]) / 2;
        Add(label, median, note ?? (repeat > 1 ? $"median of {repeat}" : null));
        return median;
    }

    /// <summary>The value of the bar with this label.</summary>
    public double this[string label] => _entries.First(e => e.Label == label).Value;

    private double InUnit(TimeSpan elapsed) => Unit switch
    {
        "s" => elapsed.TotalSeconds,
        "µs" or "us" => elapsed.TotalMicroseconds,
        "ns" => elapsed.TotalNanoseconds,
        _ => elapsed.TotalMilliseconds,
    };

    public override string ToString() =>
        $"{Title}: " + string.Join(", ", _entries.Select(e => $"{e.Label} {Html.Num(e.Value, "0.###")} {Unit}".TrimEnd()));

    public string ToHtml()
    {
        var html = new StringBuilder();
        Html.OpenFigure(html, "mmaptools-timing", Title);
        var bars = _entries.Select(e => new Bars.Bar(e.Label, e.Value,
            $"{Html.Num(e.Value, e.Value >= 100 ? "0" : "0.###")} {Unit}".TrimEnd() + (e.Note is null ? "" : $" ({e.Note})"), Bars.DefaultColor)).ToList();
        Bars.AppendSvg(html, bars, "timing-bars");
        Html.CloseFigure(html);
        return html.ToString();
    }
}
