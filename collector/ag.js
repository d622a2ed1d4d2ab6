// ag.js: the page snippet (SPEC 7), served at /ag.js. The build strips the
// comment lines and the indentation (proto/embed.py --js) and fails past
// 2 KB, so it is written tight: end every statement with a semicolon.
// s: this <script>; L: location; K: the attribution parameter; A: the
// token kept for the visit; V: an unsigned ?via=<advocate> (SPEC 7);
// F: 1 in the variant served when attribution = first (embed.py --replace);
// c: campaign; ch: channel (utm_source/medium).
(function(w,d){
var F=0,s=d.currentScript,L=w.location,K='ag_attr',A,V,ok,c,ch,r='',m=0,
u=s&&s.src?s.src.replace(/\/ag\.js.*$/,''):'',P=new URLSearchParams(L.search),
W=function(x){if(w.console)console.warn('actiongap: '+x);},
S=function(k,v){try{if(v===undefined)return sessionStorage.getItem(k);sessionStorage.setItem(k,v);}catch(e){}},
G=function(k){return P.get('utm_'+k);};
// a tracked link's attribution: kept for the visit (the first or the
// last of it), out of the address bar, as is ?via=
A=P.get(K);V=P.get('via');
if(A&&!(F&&S(K)))S(K,A);
if(V)S('ag_v',V);
if(A||V){P.delete(K);P.delete('via');try{history.replaceState(history.state,'',L.pathname+(P+''?'?'+P:'')+L.hash);}catch(e){}}
A=S(K);V=S('ag_v');
if(G('source')||G('medium'))S('ag_ch',(G('source')||G('medium')).toLowerCase().replace(/[^a-z0-9_-]/g,'').slice(0,32));
if(G('campaign'))S('ag_uc',G('campaign'));
ch=S('ag_ch');
c=s&&s.getAttribute('data-campaign')||S('ag_uc');
if(!c&&A)try{c=new URLSearchParams(atob(A.split('.')[0].replace(/-/g,'+').replace(/_/g,'/'))).get('c');}catch(e){}
ok=/^[A-Za-z0-9._-]{1,64}$/.test(c||'');
if(!ok)W('bad data-campaign "'+c+'"');
function ag(e,o){
var h={c:c,e:e||'view',t:Date.now(),p:L.pathname.slice(0,256)},k,p=[],b;
o=o||{};
if(!ok)return W('no data-campaign');
if(/^(signup|followup)$/.test(e)&&!o.s)return W(e+' needs {s: id}');
if(o.v!=null&&!/^\d+$/.test(o.v))return W('v: whole cents');
if(A)h.at=A;else if(V)h.uref=V;
if(ch)h.ch=ch;
for(k in o)h[k]=o[k];
for(k in h)if(h[k]!=null&&h[k]!=='')p.push(encodeURIComponent(k)+'='+encodeURIComponent(h[k]));
b=p.join('&');
if(!(navigator.sendBeacon&&navigator.sendBeacon(u+'/b',new Blob([b],{type:'application/x-www-form-urlencoded'}))))(new Image()).src=u+'/p.gif?'+b;
}
w.ag=ag;
try{r=d.referrer?new URL(d.referrer).host:'';}catch(e){}
ag('view',{rh:r==L.host?'':r});
// scroll depth: the deepest threshold newly reached, once each per view,
// also what is visible at load (a short page reaches 100 at once)
function f(){
var t=d.documentElement,y=(w.scrollY+w.innerHeight)/Math.max(t.scrollHeight,1)*100,i,n=0;
for(i=25;i<=100;i+=25)if(y>=i-1)n=i;
if(n>m){m=n;ag('scroll',{d:n});}
}
w.addEventListener('scroll',f,{passive:true});
if(d.readyState=='complete')f();else w.addEventListener('load',f);
})(window,document);
