using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using System.Text;

namespace MmapTools.PowerShell;

/// <summary>Completes -SharedMemoryName with the names under /dev/shm.</summary>
public sealed class SharedMemoryNameCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        string prefix = wordToComplete.Trim('\'', '"').TrimStart('/');
        IEnumerable<string> names;
        try
        {
            names = Directory.EnumerateFiles("/dev/shm").Select(System.IO.Path.GetFileName).OfType<string>().ToArray();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            yield break;
        }
        foreach (string name in names.Where(n => n.StartsWith(prefix, StringComparison.Ordinal)).Order(StringComparer.Ordinal))
            yield return new CompletionResult(name, name, CompletionResultType.ParameterValue, "/dev/shm/" + name);
    }
}

/// <summary>Completes -Id with the ids of this session's maps.</summary>
public sealed class MapIdCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters) =>
        SessionMaps.Current.Snapshot()
            .Where(m => m.Id.ToString(System.Globalization.CultureInfo.InvariantCulture).StartsWith(wordToComplete, StringComparison.Ordinal))
            .Select(m => new CompletionResult(m.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), $"{m.Id} {Display.Target(m)}",
                CompletionResultType.ParameterValue, m.ToString()));
}

/// <summary>
/// -Encoding takes an <see cref="Encoding"/>, a name PowerShell users know (utf8, utf8BOM, ascii,
/// unicode, bigendianunicode, utf32, latin1) or any name or code page .NET knows. utf8 has no BOM.
/// </summary>
public sealed class EncodingTransformationAttribute : ArgumentTransformationAttribute
{
    internal static readonly Encoding Utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false);

    internal static readonly Dictionary<string, Func<Encoding>> Names = new(StringComparer.OrdinalIgnoreCase)
    {
        ["utf8"] = () => Utf8,
        ["utf8NoBOM"] = () => Utf8,
        ["utf8BOM"] = () => new UTF8Encoding(true),
        ["ascii"] = () => Encoding.ASCII,
        ["unicode"] = () => new UnicodeEncoding(false, false),
        ["bigendianunicode"] = () => new UnicodeEncoding(true, false),
        ["utf32"] = () => new UTF32Encoding(false, false),
        ["latin1"] = () => Encoding.Latin1,
    };

    public override object Transform(EngineIntrinsics engineIntrinsics, object inputData)
    {
        object value = inputData is PSObject p ? p.BaseObject : inputData;
        try
        {
            return value switch
            {
                Encoding e => e,
                string s when Names.TryGetValue(s, out var make) => make(),
                string s when int.TryParse(s, out int codePage) => Encoding.GetEncoding(codePage),
                string s => Encoding.GetEncoding(s),
                int codePage => Encoding.GetEncoding(codePage),
                _ => throw new ArgumentTransformationMetadataException($"'{value}' is not an encoding."),
            };
        }
        catch (ArgumentException e)
        {
            throw new ArgumentTransformationMetadataException(
                $"'{value}' is not an encoding; use one of {string.Join(", ", Names.Keys)}, or a name or code page that .NET knows.", e);
        }
    }
}

/// <summary>Completes -Encoding with the names <see cref="EncodingTransformationAttribute"/> knows.</summary>
public sealed class EncodingCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters) =>
        EncodingTransformationAttribute.Names.Keys
            .Where(n => n.StartsWith(wordToComplete.Trim('\'', '"'), StringComparison.OrdinalIgnoreCase))
            .Select(n => new CompletionResult(n, n, CompletionResultType.ParameterValue, n));
}
