using System.Collections.ObjectModel;
using System.Management.Automation;
using System.Reflection;
using System.Reflection.Emit;

namespace MmapTools.Benchmarks;

/// <summary>
/// Makes, at run time, "the same cmdlet with an empty body" for compiled cmdlets: a type deriving
/// PSCmdlet whose class attributes (Cmdlet, OutputType) and parameters (name, property type and
/// every public attribute: Parameter, Alias, Validate*, ArgumentCompleter...) are copied by
/// reflection from the real type, so that PowerShell binds a command line to it exactly as to the
/// real one, and whose body only counts its records and, unless the real cmdlet writes nothing,
/// writes that count once at the end. Nothing is copied by hand, so the twin cannot drift from the
/// cmdlet it stands for. Import the assembly with a prefix (Import-Module -Assembly ... -Prefix),
/// since the twins keep their originals' verbs and nouns.
/// </summary>
public static class EmptyTwin
{
    /// <summary>
    /// One assembly holding a twin of each cmdlet type given, loaded from bytes: PowerShell imports
    /// cmdlets from an assembly by its exported types, which a dynamic (run-only) assembly cannot
    /// list, so the twins are emitted by .NET 9's PersistedAssemblyBuilder, saved to memory and
    /// loaded as an ordinary assembly. This project targets net8.0 like the module, so that
    /// builder is reached by name.
    /// </summary>
    public static Assembly Build(params Type[] cmdlets)
    {
        var persisted = Type.GetType("System.Reflection.Emit.PersistedAssemblyBuilder, System.Reflection.Emit")
            ?? throw new PlatformNotSupportedException($"Empty twins need .NET 9 or later (PersistedAssemblyBuilder); this is .NET {Environment.Version}.");
        var assembly = (AssemblyBuilder)Activator.CreateInstance(persisted, new AssemblyName("EmptyTwins"), typeof(object).Assembly, null)!;
        var module = assembly.DefineDynamicModule("EmptyTwins");
        foreach (var cmdlet in cmdlets) BuildTwin(module, cmdlet);
        using var image = new MemoryStream();
        persisted.GetMethod("Save", [typeof(Stream)])!.Invoke(assembly, [image]);
        return Assembly.Load(image.ToArray());
    }

    private static void BuildTwin(ModuleBuilder module, Type cmdlet)
    {
        if (!typeof(PSCmdlet).IsAssignableFrom(cmdlet)) throw new ArgumentException($"{cmdlet} is not a PSCmdlet.", nameof(cmdlet));
        var type = module.DefineType("MmapTools.Benchmarks.Twins." + cmdlet.Name,
            TypeAttributes.Public | TypeAttributes.Sealed | TypeAttributes.Class, typeof(PSCmdlet));
        CopyAttributes(cmdlet.GetCustomAttributesData(), type.SetCustomAttribute);
        type.DefineDefaultConstructor(MethodAttributes.Public);
        ILGenerator il;

        foreach (var property in cmdlet.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (!property.IsDefined(typeof(ParameterAttribute), inherit: true)) continue;
            var field = type.DefineField("_" + property.Name, property.PropertyType, FieldAttributes.Private);
            var twin = type.DefineProperty(property.Name, PropertyAttributes.None, property.PropertyType, null);
            CopyAttributes(property.GetCustomAttributesData(), twin.SetCustomAttribute);
            const MethodAttributes accessor = MethodAttributes.Public | MethodAttributes.SpecialName | MethodAttributes.HideBySig;
            var get = type.DefineMethod("get_" + property.Name, accessor, property.PropertyType, Type.EmptyTypes);
            il = get.GetILGenerator();
            il.Emit(OpCodes.Ldarg_0);
            il.Emit(OpCodes.Ldfld, field);
            il.Emit(OpCodes.Ret);
            var set = type.DefineMethod("set_" + property.Name, accessor, null, [property.PropertyType]);
            il = set.GetILGenerator();
            il.Emit(OpCodes.Ldarg_0);
            il.Emit(OpCodes.Ldarg_1);
            il.Emit(OpCodes.Stfld, field);
            il.Emit(OpCodes.Ret);
            twin.SetGetMethod(get);
            twin.SetSetMethod(set);
        }

        var records = type.DefineField("_records", typeof(long), FieldAttributes.Private);
        il = Override(type, "ProcessRecord").GetILGenerator();
        il.Emit(OpCodes.Ldarg_0);
        il.Emit(OpCodes.Ldarg_0);
        il.Emit(OpCodes.Ldfld, records);
        il.Emit(OpCodes.Ldc_I4_1);
        il.Emit(OpCodes.Conv_I8);
        il.Emit(OpCodes.Add);
        il.Emit(OpCodes.Stfld, records);
        il.Emit(OpCodes.Ret);
        if (WritesOutput(cmdlet))
        {
            il = Override(type, "EndProcessing").GetILGenerator();
            il.Emit(OpCodes.Ldarg_0);
            il.Emit(OpCodes.Ldarg_0);
            il.Emit(OpCodes.Ldfld, records);
            il.Emit(OpCodes.Box, typeof(long));
            il.Emit(OpCodes.Call, typeof(Cmdlet).GetMethod(nameof(Cmdlet.WriteObject), [typeof(object)])!);
            il.Emit(OpCodes.Ret);
        }
        type.CreateType();
    }

    /// <summary>An override of one of Cmdlet's parameterless processing methods.</summary>
    private static MethodBuilder Override(TypeBuilder type, string name)
    {
        var method = typeof(Cmdlet).GetMethod(name, BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public, Type.EmptyTypes)!;
        // An override from another assembly may not widen "protected internal" beyond "protected".
        var access = (method.Attributes & MethodAttributes.MemberAccessMask) is MethodAttributes.FamORAssem or MethodAttributes.Family
            ? MethodAttributes.Family : MethodAttributes.Public;
        var builder = type.DefineMethod(name, access | MethodAttributes.Virtual | MethodAttributes.HideBySig, null, Type.EmptyTypes);
        type.DefineMethodOverride(builder, method);
        return builder;
    }

    /// <summary>Whether the cmdlet declares some output: a cmdlet of [OutputType(typeof(void))] writes nothing.</summary>
    private static bool WritesOutput(Type cmdlet) =>
        cmdlet.GetCustomAttributes<OutputTypeAttribute>().SelectMany(o => o.Type).Any(t => t.Type != typeof(void));

    /// <summary>
    /// Copies each public attribute as it was written (constructor arguments and named ones); the
    /// compiler's own (nullable annotations, internal to each assembly) mean nothing to PowerShell.
    /// </summary>
    private static void CopyAttributes(IEnumerable<CustomAttributeData> attributes, Action<CustomAttributeBuilder> set)
    {
        foreach (var a in attributes)
        {
            if (!a.AttributeType.IsVisible) continue;
            var properties = a.NamedArguments.Where(n => !n.IsField).ToArray();
            var fields = a.NamedArguments.Where(n => n.IsField).ToArray();
            set(new CustomAttributeBuilder(a.Constructor, a.ConstructorArguments.Select(Value).ToArray(),
                properties.Select(n => (PropertyInfo)n.MemberInfo).ToArray(), properties.Select(n => Value(n.TypedValue)).ToArray(),
                fields.Select(n => (FieldInfo)n.MemberInfo).ToArray(), fields.Select(n => Value(n.TypedValue)).ToArray()));
        }
    }

    /// <summary>An attribute argument as CustomAttributeBuilder takes it: enums typed, arrays as arrays.</summary>
    private static object? Value(CustomAttributeTypedArgument argument)
    {
        if (argument.Value is ReadOnlyCollection<CustomAttributeTypedArgument> items)
        {
            var elementType = argument.ArgumentType.GetElementType()!;
            var array = Array.CreateInstance(elementType, items.Count);
            for (int i = 0; i < items.Count; i++) array.SetValue(Value(items[i]), i);
            return array;
        }
        return argument.ArgumentType.IsEnum && argument.Value is not null ? Enum.ToObject(argument.ArgumentType, argument.Value) : argument.Value;
    }
}
