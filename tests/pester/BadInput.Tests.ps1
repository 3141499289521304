# Inputs a new user meets at the edges: an offset exactly at the end of a map with no length, and
# files that have no pages (a UNIX socket, a FIFO, a character device), each per cmdlet by ErrorId.

BeforeAll {
    . (Join-Path $PSScriptRoot 'TestSetup.ps1')
    $script:Data = New-TestFile (Join-Path $TestDrive 'data.bin') 8KB
    $script:Map = New-MemoryMap $Data -Access ReadWrite
    # A real UNIX socket, bound (so present in the directory) while the tests run.
    $script:SocketPath = Join-Path $TestDrive 'socket'
    $script:Listener = [System.Net.Sockets.Socket]::new([System.Net.Sockets.AddressFamily]::Unix, [System.Net.Sockets.SocketType]::Stream, [System.Net.Sockets.ProtocolType]::Unspecified)
    $Listener.Bind([System.Net.Sockets.UnixDomainSocketEndPoint]::new($SocketPath))
    $script:Fifo = Join-Path $TestDrive 'fifo'
    & mkfifo $Fifo
    function Id([string] $ErrorId, [string] $Command) { "$ErrorId,MmapTools.PowerShell.$($Command)Command" }
}

AfterAll {
    $Listener.Dispose()
    Remove-SessionMaps
}

Describe 'An offset at the end of a map, with no length' {
    It 'the socket is a socket to an independent reading (stat)' {
        (& stat -c %F $SocketPath) | Should -Be 'socket'
    }

    It '<Command> -Offset at the end gives OffsetOutOfRange' -TestCases @(
        @{ Command = 'SetMemoryAdvice'; Script = { Set-MemoryAdvice $Map -Advice Normal -Offset 8KB } }
        @{ Command = 'SyncMemoryMap'; Script = { Sync-MemoryMap $Map -Offset 8KB } }
        @{ Command = 'GetPageResidency'; Script = { Get-PageResidency $Map -Offset 8KB } }
        @{ Command = 'SetMemoryProtection'; Script = { Set-MemoryProtection $Map -Access Read -Offset 8KB } }
    ) {
        $record = Get-ErrorRecords $Script
        $record.Count | Should -Be 1
        $record[0].FullyQualifiedErrorId | Should -Be (Id 'OffsetOutOfRange' $Command)
        "$($record[0])" | Should -Match 'Offset 8192 is the end of the map'
    }

    It '<Command> -Offset at the end -Length 0 still names the empty range (LengthOutOfRange)' -TestCases @(
        @{ Command = 'SetMemoryAdvice'; Script = { Set-MemoryAdvice $Map -Advice Normal -Offset 8KB -Length 0 } }
        @{ Command = 'SyncMemoryMap'; Script = { Sync-MemoryMap $Map -Offset 8KB -Length 0 } }
        @{ Command = 'GetPageResidency'; Script = { Get-PageResidency $Map -Offset 8KB -Length 0 } }
        @{ Command = 'SetMemoryProtection'; Script = { Set-MemoryProtection $Map -Access Read -Offset 8KB -Length 0 } }
    ) {
        Get-ErrorId $Script | Should -Be (Id 'LengthOutOfRange' $Command)
    }

    It 'the last byte alone is still a range: an offset one before the end works for each' {
        Set-MemoryAdvice $Map -Advice Normal -Offset (8KB - 1)
        (Sync-MemoryMap $Map -Offset (8KB - 1) -PassThru).Length | Should -Be 1
        (Get-PageResidency $Map -Offset (8KB - 1)).TotalPages | Should -Be 1
        Set-MemoryProtection $Map -Access ReadWrite -Offset (8KB - 1)
    }
}

Describe 'Files that have no pages' {
    It '<Case> gives NotMappable' -TestCases @(
        @{ Case = 'New-MemoryMap of a socket'; Command = 'NewMemoryMap'; Script = { New-MemoryMap -LiteralPath $SocketPath } }
        @{ Case = 'New-MemoryMap -Access ReadWrite of a socket'; Command = 'NewMemoryMap'; Script = { New-MemoryMap -LiteralPath $SocketPath -Access ReadWrite } }
        @{ Case = 'New-MemoryMap -Create over a socket'; Command = 'NewMemoryMap'; Script = { New-MemoryMap -LiteralPath $SocketPath -Create -Size 4KB } }
        @{ Case = 'Get-PageResidency of a socket'; Command = 'GetPageResidency'; Script = { Get-PageResidency -LiteralPath $SocketPath } }
        @{ Case = 'Get-PageResidency -Detail Summary of a socket'; Command = 'GetPageResidency'; Script = { Get-PageResidency -LiteralPath $SocketPath -Detail Summary } }
        @{ Case = 'Set-MemoryAdvice -Evict of a socket'; Command = 'SetMemoryAdvice'; Script = { Set-MemoryAdvice -LiteralPath $SocketPath -Evict } }
        @{ Case = 'Set-MemoryAdvice -Warm of a socket'; Command = 'SetMemoryAdvice'; Script = { Set-MemoryAdvice -LiteralPath $SocketPath -Warm } }
        @{ Case = 'Set-MemoryAdvice -FileAdvice of a socket'; Command = 'SetMemoryAdvice'; Script = { Set-MemoryAdvice -LiteralPath $SocketPath -FileAdvice WillNeed } }
        @{ Case = 'Get-PageResidency of a FIFO'; Command = 'GetPageResidency'; Script = { Get-PageResidency -LiteralPath $Fifo } }
        @{ Case = 'Set-MemoryAdvice -Evict of a FIFO'; Command = 'SetMemoryAdvice'; Script = { Set-MemoryAdvice -LiteralPath $Fifo -Evict } }
        @{ Case = 'Get-PageResidency of a character device'; Command = 'GetPageResidency'; Script = { Get-PageResidency -LiteralPath /dev/null } }
        @{ Case = 'Set-MemoryAdvice -Evict of a character device'; Command = 'SetMemoryAdvice'; Script = { Set-MemoryAdvice -LiteralPath /dev/null -Evict } }
    ) {
        $record = Get-ErrorRecords $Script
        $record.Count | Should -Be 1
        $record[0].FullyQualifiedErrorId | Should -Be (Id 'NotMappable' $Command)
        "$($record[0])" | Should -Match 'a socket|a FIFO|a character device'
    }

    It 'a socket among files is one error, and the files are still answered' {
        $other = New-TestFile (Join-Path $TestDrive 'other.bin') 4KB
        $records = Get-ErrorRecords { $script:answers = @(Get-PageResidency -LiteralPath $Data, $SocketPath, $other) }
        $records.Count | Should -Be 1
        $answers.Count | Should -Be 2
        $answers.Path | Should -Be @($Data, $other)
    }

    It 'the socket is still there and still a socket after all this' {
        (& stat -c %F $SocketPath) | Should -Be 'socket'
    }
}
