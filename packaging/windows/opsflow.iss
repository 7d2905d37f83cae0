; Inno Setup 6 script: the Windows installer of the Opsflow bundle.
;
; UNTESTED: written with the Linux build, never compiled or run on Windows yet. See
; packaging/README.md for the release job that builds the bundle first and then runs:
;
;   iscc /DAppVersion=0.1.0 packaging\windows\opsflow.iss
;
; With code signing, define SignTool and name the signing command (Inno runs it on the
; installer, the uninstaller and the two programs; $f is the file to sign):
;
;   iscc /DAppVersion=0.1.0 /DSignTool "/Sopsflow=<signing command> $f" packaging\windows\opsflow.iss
;
; Installs per user (no administrator needed) or, when chosen in the dialog, for all users.
; Windows associates files by their last extension only, so "x.flow.json" is a ".json"
; file: the installer registers an "Opsflow flow" file type and offers it in "Open with" for
; .json files, without taking .json over.

#ifndef AppVersion
  #error Define the version: iscc /DAppVersion=X.Y.Z packaging\windows\opsflow.iss
#endif
#ifndef BundleDir
  #define BundleDir "..\dist\opsflow"
#endif

[Setup]
AppId={{6B0F5C2E-3D4A-4F8B-9E61-0A7C2D9B4E13}
AppName=Opsflow
AppVersion={#AppVersion}
AppVerName=Opsflow {#AppVersion}
AppPublisher=Opsflow
VersionInfoVersion={#AppVersion}
VersionInfoProductName=Opsflow
DefaultDirName={autopf}\Opsflow
DefaultGroupName=Opsflow
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir=..\dist
OutputBaseFilename=opsflow-{#AppVersion}-windows-x64-setup
SetupIconFile=..\build\icons\opsflow.ico
UninstallDisplayIcon={app}\opsflow-studio.exe
UninstallDisplayName=Opsflow {#AppVersion}
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
ChangesAssociations=yes
ChangesEnvironment=yes
#ifdef SignTool
SignTool=opsflow
SignedUninstaller=yes
#endif

[Tasks]
Name: "path"; Description: "Add the opsflow command to PATH"
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; Flags: unchecked

[Files]
Source: "{#BundleDir}\*"; DestDir: "{app}"; Excludes: "opsflow.exe,opsflow-studio.exe"; \
    Flags: ignoreversion recursesubdirs createallsubdirs
#ifdef SignTool
Source: "{#BundleDir}\opsflow.exe"; DestDir: "{app}"; Flags: ignoreversion signonce
Source: "{#BundleDir}\opsflow-studio.exe"; DestDir: "{app}"; Flags: ignoreversion signonce
#else
Source: "{#BundleDir}\opsflow.exe"; DestDir: "{app}"; Flags: ignoreversion
Source: "{#BundleDir}\opsflow-studio.exe"; DestDir: "{app}"; Flags: ignoreversion
#endif

[Dirs]
; Node packs for every user of this installation (see packaging/README.md).
Name: "{app}\packs"

[Icons]
Name: "{autoprograms}\Opsflow Studio"; Filename: "{app}\opsflow-studio.exe"
Name: "{autodesktop}\Opsflow Studio"; Filename: "{app}\opsflow-studio.exe"; Tasks: desktopicon

[Registry]
; The "Opsflow flow" file type, opened by the Studio.
Root: HKA; Subkey: "Software\Classes\Opsflow.Flow"; ValueType: string; ValueName: ""; \
    ValueData: "Opsflow flow"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\Opsflow.Flow\DefaultIcon"; ValueType: string; \
    ValueName: ""; ValueData: "{app}\opsflow-studio.exe,0"
Root: HKA; Subkey: "Software\Classes\Opsflow.Flow\shell\open\command"; ValueType: string; \
    ValueName: ""; ValueData: """{app}\opsflow-studio.exe"" ""%1"""
; Offered in "Open with" for .json files (x.flow.json included); .json keeps its default.
Root: HKA; Subkey: "Software\Classes\.json\OpenWithProgids"; ValueType: string; \
    ValueName: "Opsflow.Flow"; ValueData: ""; Flags: uninsdeletevalue
Root: HKA; Subkey: "Software\Classes\Applications\opsflow-studio.exe"; ValueType: string; \
    ValueName: "FriendlyAppName"; ValueData: "Opsflow Studio"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\Applications\opsflow-studio.exe\SupportedTypes"; \
    ValueType: string; ValueName: ".json"; ValueData: ""
; PATH: the user's for a per-user install, the machine's for an all-users install.
Root: HKCU; Subkey: "Environment"; ValueType: expandsz; ValueName: "Path"; \
    ValueData: "{olddata};{app}"; Tasks: path; Check: not IsAdminInstallMode and NeedsAddPath
Root: HKLM; Subkey: "SYSTEM\CurrentControlSet\Control\Session Manager\Environment"; \
    ValueType: expandsz; ValueName: "Path"; ValueData: "{olddata};{app}"; Tasks: path; \
    Check: IsAdminInstallMode and NeedsAddPath

[Run]
Filename: "{app}\opsflow-studio.exe"; Description: "Start Opsflow Studio"; \
    Flags: nowait postinstall skipifsilent

[Code]
function PathKey(var Root: Integer): String;
begin
  if IsAdminInstallMode then begin
    Root := HKEY_LOCAL_MACHINE;
    Result := 'SYSTEM\CurrentControlSet\Control\Session Manager\Environment';
  end else begin
    Root := HKEY_CURRENT_USER;
    Result := 'Environment';
  end;
end;

function NeedsAddPath(): Boolean;
var
  Root: Integer;
  Key, Paths: String;
begin
  Key := PathKey(Root);
  if not RegQueryStringValue(Root, Key, 'Path', Paths) then begin
    Result := True;
    exit;
  end;
  Result := Pos(';' + Uppercase(ExpandConstant('{app}')) + ';', ';' + Uppercase(Paths) + ';') = 0;
end;

procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
var
  Root, At: Integer;
  Key, Paths, App: String;
begin
  if CurUninstallStep <> usPostUninstall then
    exit;
  Key := PathKey(Root);
  if not RegQueryStringValue(Root, Key, 'Path', Paths) then
    exit;
  App := ';' + ExpandConstant('{app}');
  At := Pos(Uppercase(App), Uppercase(Paths));
  if At > 0 then begin
    Delete(Paths, At, Length(App));
    RegWriteExpandStringValue(Root, Key, 'Path', Paths);
  end;
end;
