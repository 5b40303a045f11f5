// oidc-provider ships no type declarations; the test bank IdP uses it untyped.
declare module "oidc-provider";
