using System.Management.Automation;

namespace MmapTools.PowerShell;

/// <summary>
/// What every MmapTools cmdlet shares: one item's failure becomes a non-terminating error with a
/// stable id (the loop goes on), a failure of the whole command a terminating one, and the
/// ShouldProcess rule for actions that lose no data.
/// </summary>
public abstract class MmapCmdlet : PSCmdlet
{
    /// <summary>Stops the command before it starts where it cannot work at all: off Linux.</summary>
    protected override void BeginProcessing()
    {
        var reason = ModuleInitializer.GetUnsupportedReason(OperatingSystem.IsLinux(), System.Runtime.InteropServices.RuntimeInformation.OSDescription);
        if (reason is not null)
            ThrowCommandError(ErrorMapping.NotLinux, ErrorCategory.NotImplemented, reason);
    }

    /// <summary>
    /// Runs the work for one item. An expected failure (see <see cref="ErrorMapping.IsExpected"/>)
    /// is written as an error about <paramref name="target"/> and false returned; anything else,
    /// including a stop of the pipeline, goes on up.
    /// </summary>
    protected bool TryItem(object? target, Action work)
    {
        try
        {
            work();
            return true;
        }
        catch (Exception e) when (ErrorMapping.IsExpected(e))
        {
            WriteError(ErrorMapping.Record(e, Classify(e), target));
            return false;
        }
    }

    /// <summary>The ErrorId and category of a failure; a cmdlet that knows more about the cause refines <see cref="ErrorMapping.Classify"/>.</summary>
    protected virtual (string Id, ErrorCategory Category) Classify(Exception e) => ErrorMapping.Classify(e);

    /// <summary>As <see cref="TryItem(object?, Action)"/>, for work with a result (default when it failed).</summary>
    protected bool TryItem<T>(object? target, Func<T> work, out T result)
    {
        T value = default!;
        bool ok = TryItem(target, () => value = work());
        result = value;
        return ok;
    }

    /// <summary>Stops the command: nothing it was asked to do can go on.</summary>
    protected void ThrowCommandError(string id, ErrorCategory category, string message, object? target = null) =>
        ThrowTerminatingError(ErrorMapping.Create(id, category, message, target));

    protected void WriteItemError(string id, ErrorCategory category, string message, object? target) =>
        WriteError(ErrorMapping.Create(id, category, message, target));

    /// <summary>
    /// For actions that lose no data in a cmdlet whose ConfirmImpact is set for the ones that do:
    /// asks ShouldProcess only when -WhatIf or -Confirm was given (or $WhatIfPreference is on),
    /// so -WhatIf still shows every action while harmless ones never prompt. The target is named
    /// (its ToString) only when asked.
    /// </summary>
    protected bool ShouldProcessHarmless(object target, string action)
    {
        bool asked = MyInvocation.BoundParameters.ContainsKey("WhatIf") || MyInvocation.BoundParameters.ContainsKey("Confirm")
            || LanguagePrimitives.IsTrue(SessionState.PSVariable.GetValue("WhatIfPreference"));
        return !asked || ShouldProcess(target.ToString(), action);
    }

    /// <summary>
    /// ShouldProcess for an action of the given impact, asked only when it could prompt or tell:
    /// -WhatIf, -Confirm or -Verbose given, $WhatIfPreference on, $VerbosePreference not silent, or
    /// $ConfirmPreference at or below the impact. PowerShell's own ShouldProcess would answer yes
    /// otherwise too, but it costs more than the rest of a small command; so does naming a map, whose
    /// ToString is called only when asked.
    /// </summary>
    protected bool ShouldProcessAt(ConfirmImpact impact, object target, string action)
    {
        var bound = MyInvocation.BoundParameters;
        bool asked = bound.ContainsKey("WhatIf") || bound.ContainsKey("Confirm") || bound.ContainsKey("Verbose")
            || LanguagePrimitives.IsTrue(SessionState.PSVariable.GetValue("WhatIfPreference"))
            || SessionState.PSVariable.GetValue("VerbosePreference") is not ActionPreference.SilentlyContinue
            || SessionState.PSVariable.GetValue("ConfirmPreference") is not ConfirmImpact preference || preference <= impact;
        return !asked || ShouldProcess(target.ToString(), action);
    }

    /// <summary>The value of an optional parameter, or null when it was not given.</summary>
    protected long? Bound(string parameterName, long value) =>
        MyInvocation.BoundParameters.ContainsKey(parameterName) ? value : null;
}
