"""The keys each platform publishes for the MDM documents `portcullis profile` writes, so
that test_mdm_profiles.py can check that every key we emit exists there.

Apple: github.com/apple/device-management, commit b6202ca2fbd31286a52eb160b67a4db7b4fe1f1f,
mdm/profiles/TopLevel.yaml, CommonPayloadKeys.yaml, com.apple.security.root.yaml,
com.apple.security.scep.yaml, com.apple.wifi.managed.yaml (the `key:` names of payloadkeys,
dictionary subkeys as "Parent.Key"). There is no renewal or expiry-notification key in the
SCEP payload (AutoRenew does not exist; com.apple.ADCertificate.managed has
CertificateRenewalTimeInterval/EnableAutoRenewal, but for AD CS enrollment, not SCEP).

Windows: Microsoft "ClientCertificateInstall CSP" (learn.microsoft.com/windows/client-management/
mdm/clientcertificateinstall-csp; github.com/MicrosoftDocs/windows-itpro-docs,
windows/client-management/mdm/clientcertificateinstall-csp.md), the children of
ClientCertificateInstall/SCEP/{UniqueID}/Install. There is no RenewPeriod node (renewal
nodes such as RenewalPeriod belong to the CertificateStore CSP's WSTEP enrollment
certificate, not to SCEP).

Android: the Android Management API has no SCEP setting; the "scep" object is Portcullis'
own hand-over to the MDM agent, so it has no published list."""

COMMON_PAYLOAD = {"PayloadIdentifier", "PayloadUUID", "PayloadType", "PayloadVersion", "PayloadDescription",
                  "PayloadDisplayName", "PayloadOrganization"}

APPLE = {
    "Configuration": {"PayloadIdentifier", "PayloadUUID", "PayloadType", "PayloadVersion", "IsEncrypted",
                      "PayloadContent", "EncryptedPayloadContent", "PayloadDescription", "PayloadDisplayName",
                      "HasRemovalPasscode", "PayloadOrganization", "PayloadRemovalDisallowed", "PayloadScope",
                      "RemovalDate", "DurationUntilRemoval", "PayloadExpirationDate", "TargetDeviceType",
                      "ConsentText"},
    "com.apple.security.root": COMMON_PAYLOAD | {"PayloadCertificateFileName", "PayloadContent"},
    "com.apple.security.scep": COMMON_PAYLOAD | {"PayloadContent"},
    "com.apple.security.scep/PayloadContent": {"URL", "Name", "Subject", "Challenge", "Keysize", "Key Type",
                                               "Key Usage", "CAFingerprint", "Retries", "RetryDelay",
                                               "SubjectAltName", "KeyIsExtractable", "AllowAllAppsAccess"},
    "com.apple.wifi.managed": COMMON_PAYLOAD | {
        "AutoJoin", "SSID_STR", "HIDDEN_NETWORK", "ProxyType", "EncryptionType", "Password",
        "PayloadCertificateUUID", "EAPClientConfiguration", "DisplayedOperatorName", "DomainName",
        "RoamingConsortiumOIs", "ServiceProviderRoamingEnabled", "IsHotspot", "HESSID", "NAIRealmNames",
        "MCCAndMNCs", "CaptiveBypass", "QoSMarkingPolicy", "SetupModes", "EnableIPv6", "TLSCertificateRequired",
        "ProxyServer", "ProxyServerPort", "ProxyUsername", "ProxyPassword", "ProxyPACURL",
        "ProxyPACFallbackAllowed", "DisableAssociationMACRandomization"},
    "com.apple.wifi.managed/EAPClientConfiguration": {
        "AcceptEAPTypes", "UserName", "UserPassword", "PayloadCertificateAnchorUUID", "TLSTrustedCertificates",
        "TLSTrustedServerNames", "TLSAllowTrustExceptions", "TLSCertificateIsRequired", "TTLSInnerAuthentication",
        "TLSMinimumVersion", "TLSMaximumVersion", "OuterIdentity", "EAPFASTUsePAC", "EAPFASTProvisionPAC",
        "EAPFASTProvisionPACAnonymously", "EAPSIMNumberOfRANDs", "SystemModeCredentialsSource",
        "SystemModeUseOpenDirectoryCredentials", "OneTimeUserPassword"},
}

WINDOWS_SCEP_INSTALL = {"ServerURL", "Challenge", "EKUMapping", "KeyUsage", "SubjectName", "KeyProtection",
                        "RetryDelay", "RetryCount", "TemplateName", "KeyLength", "HashAlgorithm", "CAThumbprint",
                        "SubjectAlternativeNames", "ValidPeriod", "ValidPeriodUnits", "ContainerName",
                        "CustomTextToShowInPrompt", "Enroll", "AADKeyIdentifierList"}
# ValidPeriod takes one of these (the same page).
WINDOWS_VALID_PERIODS = {"Days", "Months", "Years"}
